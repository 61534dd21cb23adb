"""Per-word tagger features: casing classes, character ids, and the word-level tokenizer that gives
exactly one id per given word (taggers must keep words and tags aligned)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_lstm.data.conll import read_conll
from nlp_lstm.text.features import (
    CASINGS,
    CHAR_SPECIALS,
    MAX_WORD_LENGTH,
    build_char_vocab,
    casing,
    casing_ids,
    char_ids,
    encode_words,
)
from nlp_lstm.text.tokenizers import PAD, UNK, TextTokenizer


@pytest.fixture(scope="module")
def conll_sentences(shared_data: Path) -> list[list[str]]:
    """The first 300 sentences of CoNLL-2003 eng.testa (words only)."""
    return read_conll(shared_data / "conll2003" / "eng.testa", 0, 3).sentences[:300]


# ---------------------------------------------------------------- casing


@pytest.mark.parametrize(("word", "expected"), [
    ("lower", "lower"), ("x", "lower"), ("'s", "lower"), ("éire", "lower"),
    ("UPPER", "upper"), ("I", "upper"), ("U.S.", "upper"), ("ÉIRE", "upper"),
    ("Title", "title"), ("Éire", "title"), ("Straße", "title"),
    ("mIxed", "mixed"), ("McDonald", "mixed"), ("iPhone", "mixed"),
    ("1996", "numeric"), ("0", "numeric"),
    ("A1", "has_digit"), ("1996-08-22", "has_digit"), ("1,000", "has_digit"), ("3.14", "has_digit"),
    (".", "other"), ("--", "other"), ("(", "other"), ("&", "other"), ("", "other"),
])
def test_casing_classes(word: str, expected: str) -> None:
    assert CASINGS[casing(word)] == expected


@pytest.mark.parametrize("word", ["中国", "中", "人民日报"])
def test_casing_of_chinese_characters_is_not_mixed_case(word: str) -> None:
    assert CASINGS[casing(word)] == "other"


def test_casing_classes_are_valid_indices_and_pad_is_never_produced(conll_sentences) -> None:
    ids = casing_ids(conll_sentences)
    assert [len(row) for row in ids] == [len(s) for s in conll_sentences]
    seen = {CASINGS[k] for row in ids for k in row}
    assert "<pad>" not in seen  # 0 is the padding class
    assert {"lower", "upper", "title", "numeric", "has_digit", "other"} <= seen  # real text hits them all


# ---------------------------------------------------------------- characters


def test_char_vocab_has_pad_and_unk_first_and_every_training_character() -> None:
    vocab = build_char_vocab([["EU", "rejects"], ["Éire", "中国"]])
    assert vocab.get_itos()[:2] == CHAR_SPECIALS == ["<pad>", "<unk>"]
    assert set(vocab.get_itos()[2:]) == set("EUrejctsÉi中国")
    assert vocab.get_itos()[2] == "e"  # the most frequent character (3 times) comes first
    assert build_char_vocab([["aab"]], min_freq=2).get_itos() == ["<pad>", "<unk>", "a"]


def test_char_ids_map_unknown_characters_to_unk_and_never_to_pad() -> None:
    vocab = build_char_vocab([["abc", "Ab"]])
    stoi, unk = vocab.get_stoi(), vocab["<unk>"]
    assert unk == 1 and vocab.get_default_index() == unk
    assert char_ids([["abc", "zZa", "中"]], vocab) == [[[stoi["a"], stoi["b"], stoi["c"]], [unk, unk, stoi["a"]],
                                                       [unk]]]


def test_char_ids_truncate_long_words_and_give_an_empty_word_one_unk() -> None:
    vocab = build_char_vocab([["abcdefghijklmnopqrstuvwxyz"]])
    long_word = "abcdefghijklmnopqrstuvwxyz" * 2
    [[long_ids, empty_ids, short_ids]] = char_ids([[long_word, "", "a"]], vocab)
    assert len(long_ids) == MAX_WORD_LENGTH == 30
    assert long_ids == [vocab[c] for c in long_word[:MAX_WORD_LENGTH]]
    assert empty_ids == [vocab["<unk>"]]  # not empty: an empty word must not look like a padded word
    assert short_ids == [vocab["a"]]
    assert char_ids([], vocab) == [] and char_ids([[]], vocab) == [[]]


# ---------------------------------------------------------------- word ids


def test_train_words_gives_one_id_per_word_on_real_sentences(conll_sentences) -> None:
    tokenizer = TextTokenizer.train_words(conll_sentences[:200])
    assert (tokenizer.pad_id, tokenizer.unk_id) == (0, 1)
    assert tokenizer.vocab.get_itos()[:2] == [PAD, UNK]
    ids = tokenizer.encode_words_batch(conll_sentences)
    assert [len(row) for row in ids] == [len(s) for s in conll_sentences]
    itos = tokenizer.vocab.get_itos()
    # seen words map to themselves (no splitting at punctuation or hyphens: "1996-08-22", "U.S.", "St.")
    for sentence, row in zip(conll_sentences[:200], ids[:200]):
        assert [itos[k] for k in row] == sentence
    unseen = {word for s in conll_sentences[200:] for word in s} - {word for s in conll_sentences[:200] for word in s}
    assert unseen
    for sentence, row in zip(conll_sentences[200:], ids[200:]):
        assert all((k == tokenizer.unk_id) == (word in unseen) for word, k in zip(sentence, row))


ODD_WORDS = ["", "\x00", "\u200b", " ", "\t", "a b", "never-seen", "😀", "ｆｕｌｌ", "中国", "Éire", "-DOCSTART-"]


@pytest.mark.parametrize("lowercase", [False, True])
@pytest.mark.parametrize("digits_to_zero", [False, True])
def test_encode_words_batch_gives_one_id_per_word_always(lowercase: bool, digits_to_zero: bool) -> None:
    tokenizer = TextTokenizer.train_words([["EU", "rejects", "German", "call", "1996"], ["\x00", "中国"]],
                                          lowercase=lowercase, digits_to_zero=digits_to_zero)
    sentences = [ODD_WORDS, [], [""], ["", ""], ["EU", "", "call", "\x00", "zzz", "1996"], ODD_WORDS[::-1]]
    ids = tokenizer.encode_words_batch(sentences)
    assert [len(row) for row in ids] == [len(s) for s in sentences]
    assert all(0 <= k < len(tokenizer) and k != tokenizer.pad_id for row in ids for k in row)
    unk, stoi = tokenizer.unk_id, tokenizer.vocab.get_stoi()
    # a word that normalizes to nothing is <unk> and does not shift the ids of the words after it
    assert ids[2] == [unk] and ids[3] == [unk, unk]
    mixed = ids[4]
    assert mixed[1] == unk and mixed[4] == unk
    assert mixed[0] == stoi["eu" if lowercase else "EU"] and mixed[2] == stoi["call"]
    assert mixed[3] in (stoi.get("\x00"), unk)  # a control character: its own word, or nothing (<unk>)
    assert mixed[5] == stoi["0000" if digits_to_zero else "1996"]
    assert ids[0] == ids[5][::-1]  # each word's id depends on that word alone
    assert ids[0][ODD_WORDS.index("中国")] == stoi["中国"]



def test_encode_words_batch_encodes_each_distinct_word_once_as_a_whole_sentence_would(conll_sentences) -> None:
    """Each word of pre-split input goes through the Rust pipeline alone, so encoding the distinct words gives the
    ids encoding whole sentences gives, also where a pipeline splits a word (its last piece's id)."""
    from tokenizers import pre_tokenizers

    def sentence_by_sentence(tokenizer: TextTokenizer, sentences: list[list[str]]) -> list[list[int]]:
        encodings = tokenizer.tokenizer.encode_batch(sentences, is_pretokenized=True, add_special_tokens=False)
        rows = []
        for sentence, encoding in zip(sentences, encodings):
            row = [tokenizer.unk_id] * len(sentence)
            for token_id, word in zip(encoding.ids, encoding.word_ids):
                row[word] = tokenizer.unk_id if token_id == tokenizer.pad_id else token_id
            rows.append(row)
        return rows

    sentences = [*conll_sentences[:300], ODD_WORDS, ["<pad>", "a-b", "New York", "", "EU"], ("EU", "call")]
    plain = TextTokenizer.train_words(conll_sentences[:100], lowercase=True, digits_to_zero=True)
    splitting = TextTokenizer.train_words([*conll_sentences[:100], ["New", "York"]])
    splitting.tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # "a-b" -> a, -, b; "New York" -> New, York
    for tokenizer in (plain, splitting):
        expected = sentence_by_sentence(tokenizer, [list(s) for s in sentences])
        assert tokenizer.encode_words_batch(sentences) == expected
    york = splitting.vocab.get_stoi()["York"]
    assert splitting.encode_words_batch([["New York", "York New"]]) == [[york, splitting.vocab["New"]]]



@pytest.mark.parametrize("lowercase, digits_to_zero, vocab_size, min_freq", [(False, False, 50000, 1),
                                                                             (True, True, 60, 2)])
def test_train_words_learns_the_vocabulary_word_by_word_training_learns(
        conll_sentences, lowercase: bool, digits_to_zero: bool, vocab_size: int, min_freq: int) -> None:
    """train_words passes the trainer one string a sentence (words joined by WORD_SEPARATOR, split again in Rust);
    the tokenizer is the one the trainer builds from one string a word, also for words normalization changes."""
    from tokenizers import trainers

    from nlp_lstm.text import tokenizers as module

    odd = [*ODD_WORDS, "ΟΔΟΣ", "Σ", "e", "\u0301x", "\u0301", "ﬁ", PAD, UNK, "1996", "ＡＢ"]
    sentences = [*conll_sentences, odd, odd[::-1], [], ["ΣΑΣ", "e", "\u0301"]]
    with_separator = [*sentences, ["a" + module.WORD_SEPARATOR + "b", "EU"]]  # such a word: one string a word
    for corpus in (sentences, with_separator):
        reference = module._word_level(lowercase, digits_to_zero)
        reference.train_from_iterator((word for sentence in corpus for word in sentence),
                                      trainer=trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_freq,
                                                                        special_tokens=module.SPECIALS, **module.QUIET))
        trained = TextTokenizer.train_words(corpus, lowercase, digits_to_zero, vocab_size, min_freq)
        assert trained.tokenizer.to_str() == module._specials_first(reference).to_str()


def test_lowercase_and_digits_to_zero_options() -> None:
    sentences = [["Apple", "apple", "APPLE", "1996", "2024", "A1", "1996-08-22"]]
    plain = TextTokenizer.train_words(sentences)
    assert sorted(plain.vocab.get_itos()[2:]) == sorted(sentences[0])  # all distinct: 7 words
    folded = TextTokenizer.train_words(sentences, lowercase=True, digits_to_zero=True)
    assert set(folded.vocab.get_itos()[2:]) == {"apple", "0000", "a0", "0000-00-00"}
    [[a, b, c, d, e, f, g]] = folded.encode_words_batch(sentences)
    assert a == b == c and d == e and len({a, d, f, g}) == 4
    # unseen words fold the same way, and NFKC makes full-width forms ASCII
    [[h, i, j]] = folded.encode_words_batch([["aPPLe", "7777", "ＡＰＰＬＥ"]])
    assert (h, i, j) == (a, d, a)
    lower_only = TextTokenizer.train_words(sentences, lowercase=True)
    assert lower_only.encode_words_batch([["1996", "2024"]])[0] == [lower_only.vocab["1996"], lower_only.vocab["2024"]]
    digits_only = TextTokenizer.train_words(sentences, digits_to_zero=True)
    assert digits_only.encode_words_batch([["Apple", "apple"]])[0] == [digits_only.vocab["Apple"],
                                                                       digits_only.vocab["apple"]]


def test_min_freq_and_vocab_size_bound_the_word_vocab(conll_sentences) -> None:
    full = TextTokenizer.train_words(conll_sentences)
    frequent = TextTokenizer.train_words(conll_sentences, min_freq=3)
    small = TextTokenizer.train_words(conll_sentences, vocab_size=50)
    assert len(small) == 50 < len(frequent) < len(full)
    assert [len(row) for row in small.encode_words_batch(conll_sentences)] == [len(s) for s in conll_sentences]


def test_save_load_round_trip_keeps_vocab_and_normalization(conll_sentences, tmp_path: Path) -> None:
    tokenizer = TextTokenizer.train_words(conll_sentences[:150], lowercase=True, digits_to_zero=True)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = TextTokenizer.load(tmp_path / "tokenizer.json")
    assert loaded.vocab.get_itos() == tokenizer.vocab.get_itos()
    assert (loaded.pad_id, loaded.unk_id) == (tokenizer.pad_id, tokenizer.unk_id)
    probe = [*conll_sentences, ODD_WORDS, ["APPLE", "Apple", "1234", "ＥＵ"]]
    assert loaded.encode_words_batch(probe) == tokenizer.encode_words_batch(probe)


def test_encode_words_returns_aligned_ids_chars_and_casing(conll_sentences) -> None:
    sentences = [*conll_sentences[:20], ["", "中国", "x" * 40]]
    tokenizer = TextTokenizer.train_words(sentences)
    char_vocab = build_char_vocab(sentences)
    ids, chars, casings = encode_words(tokenizer, sentences, char_vocab, with_casing=True)
    lengths = [len(s) for s in sentences]
    assert [len(r) for r in ids] == [len(r) for r in chars] == [len(r) for r in casings] == lengths
    assert all(1 <= len(word) <= MAX_WORD_LENGTH for row in chars for word in row)
    assert encode_words(tokenizer, sentences) == (ids, None, None)
