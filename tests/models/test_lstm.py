"""ExplicitLSTM: the gate equations written out give torch.nn.LSTM's outputs and final states (within 1e-5)
with the same weights, on random inputs of mixed lengths; a state_dict moves both ways; the gates it shows
are in their ranges and padded steps change nothing."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlp_lstm.models.lstm import ExplicitLSTM

LENGTHS = torch.tensor([7, 3, 5, 1, 7, 2])


def pair(seed: int = 0, **kwargs: object) -> tuple[nn.LSTM, ExplicitLSTM]:
    """An nn.LSTM with random weights and an ExplicitLSTM that loaded its state_dict."""
    torch.manual_seed(seed)
    fused = nn.LSTM(5, 4, **kwargs)
    explicit = ExplicitLSTM(5, 4, **kwargs)
    explicit.load_state_dict(fused.state_dict())
    return fused, explicit


def test_it_has_exactly_nn_lstms_parameters() -> None:
    for kwargs in ({}, {"num_layers": 2, "bidirectional": True}, {"bias": False, "num_layers": 3}):
        fused, explicit = nn.LSTM(5, 4, **kwargs), ExplicitLSTM(5, 4, **kwargs)
        assert [(n, p.shape) for n, p in explicit.named_parameters()] == \
               [(n, p.shape) for n, p in fused.named_parameters()]
    names = [n for n, _ in ExplicitLSTM(5, 4, num_layers=2, bidirectional=True).named_parameters()]
    assert "weight_ih_l1_reverse" in names and "bias_hh_l0" in names


@pytest.mark.parametrize("kwargs", [{}, {"bidirectional": True}, {"num_layers": 2},
                                    {"num_layers": 2, "bidirectional": True}, {"bias": False}])
def test_full_length_sequences_equal_nn_lstm(kwargs: dict) -> None:
    fused, explicit = pair(**kwargs)
    x = torch.randn(9, 3, 5)  # (seq_len, batch, input_size)
    directions = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)
    h0, c0 = torch.randn(layers * directions, 3, 4), torch.randn(layers * directions, 3, 4)
    for hx in (None, (h0, c0)):
        expected, (h, c) = fused(x, hx)
        got, (h2, c2) = explicit(x, hx)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
        torch.testing.assert_close(h2, h, atol=1e-5, rtol=0)
        torch.testing.assert_close(c2, c, atol=1e-5, rtol=0)


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (1, True), (2, True)])
def test_mixed_lengths_equal_nn_lstm_on_packed_sequences(layers: int, bidirectional: bool) -> None:
    fused, explicit = pair(num_layers=layers, bidirectional=bidirectional, batch_first=True)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), 5)
    packed = pack_padded_sequence(x, LENGTHS, batch_first=True, enforce_sorted=False)
    out, (h, c) = fused(packed)
    expected, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    x = x.clone()
    x[torch.arange(x.size(1))[None, :] >= LENGTHS[:, None]] = 99.0  # padding content must not matter
    got, (h2, c2) = explicit(x, lengths=LENGTHS)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)  # 0 at padded steps, as pad_packed_sequence
    torch.testing.assert_close(h2, h, atol=1e-5, rtol=0)
    torch.testing.assert_close(c2, c, atol=1e-5, rtol=0)


def test_gradients_equal_nn_lstms() -> None:
    fused, explicit = pair(num_layers=2, bidirectional=True)
    x = torch.randn(6, 4, 5)
    fused(x)[0].pow(2).sum().backward()
    explicit(x)[0].pow(2).sum().backward()
    for (name, p), q in zip(fused.named_parameters(), explicit.parameters()):
        torch.testing.assert_close(q.grad, p.grad, atol=1e-5, rtol=1e-4, msg=name)


def test_state_dict_moves_both_ways() -> None:
    torch.manual_seed(1)
    explicit = ExplicitLSTM(5, 4, num_layers=2, bidirectional=True)
    fused = nn.LSTM(5, 4, num_layers=2, bidirectional=True)
    fused.load_state_dict(explicit.state_dict())  # explicit -> fused
    x = torch.randn(8, 2, 5)
    torch.testing.assert_close(fused(x)[0], explicit(x)[0], atol=1e-5, rtol=0)
    assert set(explicit.state_dict()) == set(fused.state_dict())


def test_gates_are_in_their_ranges_and_padded_steps_change_nothing() -> None:
    _, explicit = pair(bidirectional=True, num_layers=2, batch_first=True)
    x = torch.randn(len(LENGTHS), int(LENGTHS.max()), 5)
    out, (h, c), gates = explicit(x, lengths=LENGTHS, return_gates=True)
    real = (torch.arange(x.size(1))[None, :] < LENGTHS[:, None])[:, :, None]
    for layer in range(2):
        for direction in range(2):
            for name in ("forget", "input", "output"):
                values = getattr(gates, name)[layer][direction]
                assert values.shape == (len(LENGTHS), x.size(1), 4)
                assert ((values > 0) & (values < 1))[real.expand_as(values)].all(), name
                assert (values[~real.expand_as(values)] == 0).all()
            candidate = gates.candidate[layer][direction]
            assert ((candidate > -1) & (candidate < 1))[real.expand_as(candidate)].all()
    # the forward direction's final state is the state after each sequence's last real step
    last = out[torch.arange(len(LENGTHS)), LENGTHS - 1, :4]
    torch.testing.assert_close(h[2], last)  # layer 2, forward direction
    last_cell = gates.cell[1][0][torch.arange(len(LENGTHS)), LENGTHS - 1]
    torch.testing.assert_close(c[2], last_cell)
    # the same sequence alone, without padding, gives the same outputs
    alone, _ = explicit(x[3:4, :1], lengths=LENGTHS[3:4])
    torch.testing.assert_close(alone[0], out[3, :1], atol=1e-6, rtol=0)


# ---------------------------------------------------------------- in the classifier and tagger (model.lstm)


def test_classifier_trained_with_the_explicit_lstm_loads_as_fused_and_back(sst2_600, tmp_path) -> None:
    import contextlib
    import io

    from nlp_lstm.config import Config, DataConfig, ModelConfig, TokenizerConfig, TrainingConfig
    from nlp_lstm.data.sources import load_texts
    from nlp_lstm.model_dir import load_model_dir
    from nlp_lstm.predictor import predict_proba_ids
    from nlp_lstm.runs import train

    config = Config(
        data=DataConfig(train=f"tsv:{sst2_600 / 'train.tsv'}", dev=f"tsv:{sst2_600 / 'dev.tsv'}",
                        text_column="sentence", max_length=30),
        tokenizer=TokenizerConfig(vocab_size=2000),
        model=ModelConfig(embedding_dim=8, hidden_size=8, num_layers=2, lstm="explicit"),
        training=TrainingConfig(plots=False, epochs=1, batch_size=32, max_steps=6, seed=0, device="cpu"),
    )
    with contextlib.redirect_stdout(io.StringIO()):
        model_dir = train(config, tmp_path / "run", progress=False).model_dir
    explicit = load_model_dir(model_dir)
    assert isinstance(explicit.model.encoder.forward_layers[0], ExplicitLSTM)
    fused = load_model_dir(model_dir, lstm="fused")
    assert type(fused.model.encoder.backward_layers[1]) is nn.LSTM
    ids = explicit.tokenizer.encode_batch(load_texts(f"tsv:{sst2_600 / 'dev.tsv'}", "sentence", "label").texts)
    expected = predict_proba_ids(explicit.model, ids, torch.device("cpu"), 16, 30)
    got = predict_proba_ids(fused.model, ids, torch.device("cpu"), 16, 30)
    assert abs(got - expected).max() < 1e-5
    again = predict_proba_ids(load_model_dir(model_dir, lstm="explicit").model, ids, torch.device("cpu"), 16, 30)
    assert abs(again - expected).max() < 1e-6


def test_tagger_weights_move_between_the_two_lstms() -> None:
    from nlp_lstm.config import ModelConfig
    from nlp_lstm.models.tagger import BiLSTMTagger

    torch.manual_seed(0)
    spec = ModelConfig(embedding_dim=8, hidden_size=6, num_layers=2, char_embedding_dim=4, char_filters=4, crf=True)
    fused = BiLSTMTagger(50, 5, spec, char_vocab_size=20).eval()
    explicit = BiLSTMTagger(50, 5, dataclasses.replace(spec, lstm="explicit"), char_vocab_size=20).eval()
    explicit.load_state_dict(fused.state_dict())
    ids = torch.randint(2, 50, (4, 9))
    lengths = torch.tensor([9, 4, 1, 6])
    chars = torch.randint(1, 20, (4, 9, 5))
    with torch.no_grad():
        torch.testing.assert_close(explicit(ids, lengths, chars), fused(ids, lengths, chars), atol=1e-5, rtol=0)
