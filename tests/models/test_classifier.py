import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nlp_lstm.config import ModelConfig
from nlp_lstm.models.classifier import BiLSTMClassifier
from nlp_lstm.models.encoder import BiLSTMEncoder, reverse_within_length


def padded_batch(lengths, vocab_size=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, vocab_size, (len(lengths), max(lengths)), generator=generator)
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    return ids, torch.tensor(lengths)


def test_reverse_within_length_keeps_padding_in_place_and_is_its_own_inverse():
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 0, 0]])[:, :, None]
    lengths = torch.tensor([3, 2])
    assert reverse_within_length(x, lengths).squeeze(-1).tolist() == [[3, 2, 1, 0], [5, 4, 0, 0]]
    assert torch.equal(reverse_within_length(reverse_within_length(x, lengths), lengths), x)


def test_reverse_within_length_moves_whole_vectors_and_their_gradients_unchanged():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, 5, generator=generator, requires_grad=True)
    lengths = torch.tensor([6, 1, 4, 3])
    upstream = torch.randn(4, 6, 5, generator=generator)
    out = reverse_within_length(x, lengths)
    (grad,) = torch.autograd.grad(out, x, upstream)
    for row, length in enumerate(lengths.tolist()):
        order = [*range(length - 1, -1, -1), *range(length, 6)]
        assert torch.equal(out[row], x[row, order])
        assert torch.equal(grad[row, order], upstream[row])


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_encoder_equals_packed_nn_lstm(num_layers, bidirectional):
    torch.manual_seed(0)
    encoder = BiLSTMEncoder(6, 5, num_layers, bidirectional).eval()
    reference = torch.nn.LSTM(6, 5, num_layers, batch_first=True, bidirectional=bidirectional)
    state = {}
    for layer in range(num_layers):
        for name, p in encoder.forward_layers[layer].named_parameters():
            state[name.replace("l0", f"l{layer}")] = p
        if bidirectional:
            for name, p in encoder.backward_layers[layer].named_parameters():
                state[name.replace("l0", f"l{layer}") + "_reverse"] = p
    reference.load_state_dict(state)
    x = torch.randn(5, 8, 6)
    lengths = torch.tensor([8, 3, 1, 6, 5])
    packed, _ = reference(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    expected, _ = pad_packed_sequence(packed, batch_first=True, total_length=8)
    assert torch.allclose(encoder(x, lengths), expected, atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "max_mean", "attention"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_logits_do_not_depend_on_padding(pooling, bidirectional):
    torch.manual_seed(0)
    model = BiLSTMClassifier(40, 3, ModelConfig(embedding_dim=8, hidden_size=6, num_layers=2,
                                                 bidirectional=bidirectional, pooling=pooling)).eval()
    lengths = [11, 4, 1, 7]
    ids, lengths_t = padded_batch(lengths)
    batched = model(ids, lengths_t)
    for row, length in enumerate(lengths):
        alone = model(ids[row : row + 1, :length], lengths_t[row : row + 1])
        assert torch.allclose(batched[row], alone[0], atol=1e-6)
        # more padding after the same sentence changes nothing either
        wider = torch.cat([ids[row : row + 1, :length], torch.zeros(1, 20, dtype=torch.long)], dim=1)
        assert torch.allclose(model(wider, lengths_t[row : row + 1])[0], alone[0], atol=1e-6)


def test_padding_embedding_is_zero_and_forget_bias_is_one():
    model = BiLSTMClassifier(30, 2, ModelConfig(embedding_dim=4, hidden_size=3), padding_idx=0)
    assert torch.count_nonzero(model.embedding.weight[0]) == 0
    bias = model.encoder.forward_layers[0].bias_ih_l0
    assert bias[3:6].tolist() == [1.0, 1.0, 1.0] and bias[:3].abs().sum() == 0


def test_unknown_pooling_is_rejected():
    with pytest.raises(ValueError, match="pooling. parameter must be one of"):
        BiLSTMClassifier(10, 2, ModelConfig(pooling="sum"))


def test_max_mean_pooling_is_the_max_and_the_mean_side_by_side():
    torch.manual_seed(0)
    spec = ModelConfig(embedding_dim=8, hidden_size=6, pooling="max_mean")
    model = BiLSTMClassifier(40, 3, spec).eval()
    assert model.output.in_features == 4 * 6  # two directions, each pooled twice
    ids, lengths = padded_batch([5, 2, 7])
    with torch.no_grad():
        directions = model.encoder.directions(model.embed(ids), lengths)
        mask = (torch.arange(ids.size(1))[None, :] < lengths[:, None])[:, :, None]
        expected = torch.cat([torch.cat([h.masked_fill(~mask, float("-inf")).amax(dim=1),
                                         h.sum(dim=1) / lengths[:, None]], dim=-1) for h in directions], dim=-1)
        torch.testing.assert_close(model(ids, lengths), model.output(expected))
