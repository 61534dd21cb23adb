"""BiLSTMTagger and CharCNN contracts on real CoNLL-2003 sentences: emissions do not depend on word or
character padding, the loss is finite and falls, decoding gives one tag per word, and a BIOES-constrained
CRF never decodes an ill-formed sequence."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import gradients_on_two_threads

from nlp_lstm.config import ModelConfig
from nlp_lstm.data.batching import Batch, collate_tagged
from nlp_lstm.data.conll import read_conll
from nlp_lstm.data.tag_schemes import convert_sequences
from nlp_lstm.models.char_cnn import CharCNN, unique_rows
from nlp_lstm.models.crf import scheme_constraints
from nlp_lstm.models.tagger import BiLSTMTagger
from nlp_lstm.text.features import build_char_vocab, encode_words
from nlp_lstm.text.tokenizers import TextTokenizer

N_SENTENCES = 60  # of eng.train, -DOCSTART- lines skipped


@pytest.fixture(scope="module")
def conll(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The first sentences of eng.train: words, BIOES tags, and their ids, character ids and casing."""
    lines = (shared_data / "conll2003" / "eng.train").read_text(encoding="utf-8").split("\n")
    path = tmp_path_factory.mktemp("conll") / "slice.conll"
    path.write_text("\n".join(lines[:1200]) + "\n", encoding="utf-8")  # a little more than N_SENTENCES
    data = read_conll(path, 0, 3)
    sentences = data.sentences[:N_SENTENCES]
    tags = convert_sequences(data.tags[:N_SENTENCES], "iob1", "bioes")
    tokenizer = TextTokenizer.train_words(sentences, lowercase=True, digits_to_zero=True)
    char_vocab = build_char_vocab(sentences)
    ids, chars, casing = encode_words(tokenizer, sentences, char_vocab, with_casing=True)
    tag_names = sorted({tag for sentence in tags for tag in sentence} | {"O"})
    tag_ids = [[tag_names.index(tag) for tag in sentence] for sentence in tags]
    return {"sentences": sentences, "ids": ids, "chars": chars, "casing": casing, "tags": tag_ids,
            "tag_names": tag_names, "vocab_size": len(tokenizer), "num_chars": len(char_vocab)}


def make_tagger(conll: dict, crf: bool, constrained: bool = False, dropout: float = 0.5,
                seed: int = 0) -> BiLSTMTagger:
    """A small tagger with every feature: word embedding, character CNN and casing."""
    torch.manual_seed(seed)
    constraints = scheme_constraints(conll["tag_names"], "BIOES") if constrained else None
    return BiLSTMTagger(conll["vocab_size"], len(conll["tag_names"]),
                        ModelConfig(embedding_dim=16, hidden_size=12, dropout=dropout, char_embedding_dim=8,
                                    char_filters=10, casing_embedding_dim=4, crf=crf),
                        char_vocab_size=conll["num_chars"], crf_constraints=constraints)


def batch_of(conll: dict, indices: list[int], with_tags: bool = False) -> Batch:
    pick = lambda key: [conll[key][i] for i in indices]  # noqa: E731
    return collate_tagged(pick("ids"), list(range(len(indices))), pick("tags") if with_tags else None,
                          pick("chars"), pick("casing"))


def emissions_of(model: BiLSTMTagger, batch: Batch) -> torch.Tensor:
    return model(batch.ids, batch.lengths, batch.chars, batch.casing)


# Sentences of very different lengths (1 to 30 words here), so most rows of the batch are padded.
MIXED = [0, 1, 2, 3, 5, 8, 13, 21]


@pytest.mark.parametrize("crf", [True, False])
def test_emissions_of_a_sentence_alone_equal_its_row_in_a_padded_batch(conll, crf: bool) -> None:
    model = make_tagger(conll, crf, constrained=crf).eval()
    batch = batch_of(conll, MIXED)
    assert len(set(batch.lengths.tolist())) > 3 and batch.chars.size(2) > 5  # real word and character padding
    with torch.no_grad():
        together = emissions_of(model, batch)
        for row, i in enumerate(MIXED):
            alone = emissions_of(model, batch_of(conll, [i]))
            length = len(conll["ids"][i])
            assert alone.shape == (1, length, len(conll["tag_names"]))
            torch.testing.assert_close(together[row, :length], alone[0], atol=1e-6, rtol=0)


def test_extra_character_padding_inside_words_changes_nothing(conll) -> None:
    model = make_tagger(conll, crf=True).eval()
    batch = batch_of(conll, MIXED)
    with torch.no_grad():
        reference = emissions_of(model, batch)
        for extra in (1, 2, 9):
            wider = torch.nn.functional.pad(batch.chars, (0, extra))  # more <pad> characters after each word
            batch_wide = Batch(batch.ids, batch.lengths, batch.index, chars=wider, casing=batch.casing)
            torch.testing.assert_close(emissions_of(model, batch_wide), reference, atol=1e-6, rtol=0)


@pytest.mark.parametrize("crf", [True, False])
def test_loss_is_finite_and_falls_over_a_few_adam_steps(conll, crf: bool) -> None:
    model = make_tagger(conll, crf, constrained=crf, dropout=0.0)
    batch = batch_of(conll, list(range(12)), with_tags=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(15):
        loss = model.loss(emissions_of(model, batch), batch.labels, batch.mask)
        assert loss.dim() == 0 and torch.isfinite(loss), losses
        optimizer.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    assert min(losses[-5:]) < min(losses[:5]), losses


def test_loss_ignores_whatever_the_padded_tags_hold(conll) -> None:
    """Padded steps of the tag tensor may hold anything (0 from collate, -100 elsewhere)."""
    for crf in (True, False):
        model = make_tagger(conll, crf, constrained=crf).eval()
        batch = batch_of(conll, MIXED, with_tags=True)
        emissions = emissions_of(model, batch)
        other = batch.labels.masked_fill(~batch.mask, len(conll["tag_names"]) - 1)
        torch.testing.assert_close(model.loss(emissions, other, batch.mask),
                                   model.loss(emissions, batch.labels, batch.mask))


@pytest.mark.parametrize("crf", [True, False])
def test_decode_gives_one_tag_per_word(conll, crf: bool) -> None:
    model = make_tagger(conll, crf, constrained=crf).eval()
    batch = batch_of(conll, MIXED)
    with torch.no_grad():
        decoded = model.decode(emissions_of(model, batch), batch.mask)
    assert isinstance(decoded, list) and all(isinstance(row, list) for row in decoded)
    assert [len(row) for row in decoded] == [len(conll["ids"][i]) for i in MIXED]
    assert all(isinstance(k, int) and 0 <= k < len(conll["tag_names"]) for row in decoded for k in row)


def is_valid_bioes(names: list[str]) -> bool:
    """Whether a BIOES sequence is well formed: B-X (I-X)* E-X chunks, S-X singles, O elsewhere."""
    open_type = None
    for name in names:
        prefix, _, type_ = name.partition("-")
        if prefix in ("I", "E"):
            if open_type != type_:
                return False
            open_type = None if prefix == "E" else type_
        elif open_type is not None:  # O, B- or S- while a chunk is still open
            return False
        elif prefix == "B":
            open_type = type_
    return open_type is None


def test_is_valid_bioes_helper() -> None:
    assert is_valid_bioes(["B-PER", "I-PER", "E-PER", "O", "S-LOC", "S-LOC"]) and is_valid_bioes([])
    for bad in (["I-PER"], ["E-PER"], ["B-PER"], ["B-PER", "O"], ["B-PER", "E-LOC"], ["B-PER", "S-PER"],
                ["B-PER", "I-PER"], ["S-PER", "I-PER"]):
        assert not is_valid_bioes(bad), bad


@pytest.mark.parametrize("seed", range(4))
def test_bioes_constrained_crf_never_decodes_an_invalid_sequence(conll, seed: int) -> None:
    names = conll["tag_names"]
    assert {name[0] for name in names} == set("OBIES")
    model = make_tagger(conll, crf=True, constrained=True, seed=seed).eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in (model.crf.start_transitions, model.crf.transitions, model.crf.end_transitions):
            param.normal_(generator=generator)
        lengths = torch.randint(1, 25, (64,), generator=generator)
        emissions = 4 * torch.randn(64, int(lengths.max()), len(names), generator=generator)
        # favour the tags that can break the scheme: I- and E- out of nowhere, B- left open
        favoured = torch.tensor([name[0] in "IEB" for name in names])
        emissions[:, :, favoured] += 3.0
        mask = torch.arange(emissions.size(1))[None, :] < lengths[:, None]
        decoded = model.decode(emissions, mask)
        unconstrained = make_tagger(conll, crf=True, seed=seed).eval()
        unconstrained.crf.load_state_dict({k: torch.ones_like(v) if k.endswith("_allowed") else v
                                           for k, v in model.crf.state_dict().items()})
        free = unconstrained.decode(emissions, mask)
    assert [len(row) for row in decoded] == lengths.tolist()
    for row in decoded:
        assert is_valid_bioes([names[k] for k in row]), [names[k] for k in row]
    # the same scores without constraints do decode invalid sequences: the constraints did the work
    assert not all(is_valid_bioes([names[k] for k in row]) for row in free)


def test_char_cnn_gives_zeros_for_padded_words() -> None:
    torch.manual_seed(0)
    cnn = CharCNN(num_chars=12, embedding_dim=6, num_filters=7)
    chars = torch.tensor([
        [[3, 4, 5, 0], [2, 0, 0, 0], [0, 0, 0, 0]],  # a 3-letter word, a 1-letter word, a padded word
        [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],  # a sentence row that is all padding
    ])
    out = cnn(chars)
    assert out.shape == (2, 3, 7)
    assert torch.isfinite(out).all()
    assert torch.equal(out[0, 2], torch.zeros(7)) and torch.equal(out[1], torch.zeros(3, 7))
    assert out[0, 0].abs().sum() > 0 and out[0, 1].abs().sum() > 0
    # a word's features do not depend on the padding after it, nor on the other words
    torch.testing.assert_close(cnn(torch.tensor([[[3, 4, 5]]]))[0, 0], out[0, 0], atol=1e-6, rtol=0)
    torch.testing.assert_close(cnn(torch.tensor([[[2]]]))[0, 0], out[0, 1], atol=1e-6, rtol=0)
    out.sum().backward()
    assert torch.isfinite(cnn.conv.weight.grad).all()


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_char_cnn_convolves_each_distinct_word_s_characters_once_as_the_padded_convolution_would(
        monkeypatch: pytest.MonkeyPatch, kernel_size: int) -> None:
    torch.manual_seed(0)
    cnn = CharCNN(30, 8, 6, kernel_size=kernel_size)
    words = torch.randint(1, 30, (5, 7))
    for word, length in enumerate([1, 3, 4, 7, 2]):  # words of every length end in padding, one fills the width
        words[word, length:] = 0
    chars = words[torch.randint(0, 5, (3, 6))]  # (3 sentences, 6 positions, 7 chars): words repeat
    chars[2, 4:] = 0  # a short sentence: padded positions
    out = cnn(chars)
    out.square().sum().backward()
    grads = [p.grad.clone() for p in cnn.parameters()]
    cnn.zero_grad()
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)  # every position on its own, as exported
    plain = cnn(chars)
    plain.square().sum().backward()
    assert torch.allclose(out, plain, atol=1e-6)
    assert (plain[2, 4:] == 0).all()
    for grad, param in zip(grads, cnn.parameters()):
        assert torch.allclose(grad, param.grad, atol=1e-5)


@pytest.mark.parametrize(("num_values", "width"), [(2, 1), (86, 12), (86, 30), (4578, 30), (2**40, 3)])
def test_unique_rows_is_torch_unique_over_rows(num_values: int, width: int) -> None:
    generator = torch.Generator().manual_seed(width)
    # few distinct values per column, so rows repeat and share prefixes; ids up to num_values - 1
    pool = torch.tensor([0, 1, num_values // 2, num_values - 1]).unique()
    rows = pool[torch.randint(0, len(pool), (500, width), generator=generator)]
    rows[::7] = rows[3]  # exact repeats
    expected, expected_inverse = torch.unique(rows, dim=0, return_inverse=True)
    got, inverse = unique_rows(rows, num_values)
    assert torch.equal(got, expected) and torch.equal(inverse, expected_inverse)


def test_unique_rows_falls_back_for_ids_out_of_range() -> None:
    rows = torch.tensor([[5, -1], [5, -1], [2, 9]])
    got, inverse = unique_rows(rows, 4)
    assert torch.equal(got, torch.tensor([[2, 9], [5, -1]])) and inverse.tolist() == [1, 1, 0]


def test_char_cnn_gradients_are_the_same_on_every_run() -> None:
    """Each distinct word's gradient is summed over its positions in a fixed order (index_select's backward), not
    by parallel atomic adds (indexing's), so training with a character CNN is reproducible on several threads."""
    torch.manual_seed(0)
    cnn = CharCNN(60, 30, 50)
    words = torch.randint(1, 60, (40, 9))
    chars = words[torch.randint(0, 40, (64, 50))]  # 3,200 positions, 40 distinct words
    upstream = torch.randn(64, 50, 50)  # each position of a word gets a different gradient to sum
    grads = gradients_on_two_threads(cnn, lambda cnn: (cnn(chars) * upstream).sum())
    assert all(torch.equal(a, b) for grad in grads[1:] for a, b in zip(grads[0], grad))


def test_char_cnn_takes_odd_kernel_sizes_only() -> None:
    """Each character's window is centred on it, as the exported graph's padded convolution computes it."""
    assert CharCNN(12, 6, 7, kernel_size=5)(torch.tensor([[[3, 4, 5, 0]]])).shape == (1, 1, 7)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        CharCNN(12, 6, 7, kernel_size=4)
