import pytest

from nlp_lstm.errors import ConfigError
from nlp_lstm.text.tokenizers import KINDS, PAD, UNK, TextTokenizer

TEXTS = [
    "Hello, World! Don't panic: 3.14 apples.",
    "这个手机很好用！屏幕也不错。",
    "great phone 😀👍 would buy again",
    "",
    "   ",
    "Café MÜNCHEN ｆｕｌｌ-width",
    "mixed 中文 and English, 手机 phone",
]


def sst2_slice(sst2_dir, n=400):
    lines = (sst2_dir / "train.tsv").read_text(encoding="utf-8").splitlines()[1 : n + 1]
    return [line.split("\t")[0] for line in lines]


def test_word_tokens_split_words_punctuation_and_cjk_characters():
    tok = TextTokenizer.train(TEXTS, kind="word")
    assert tok.tokenize(TEXTS[0]) == ["hello", ",", "world", "!", "don't", "panic", ":", "3", ".", "14", "apples", "."]
    assert tok.tokenize("这个手机很好用！") == ["这", "个", "手", "机", "很", "好", "用", "!"]
    assert tok.tokenize("great phone 😀👍") == ["great", "phone", "😀", "👍"]
    assert tok.tokenize("mixed 中文 and") == ["mixed", "中", "文", "and"]
    assert tok.tokenize("Café ｆｕｌｌ") == ["café", "full"]  # NFKC folds full-width forms, accents stay


@pytest.mark.parametrize("kind", KINDS)
def test_the_batch_api_gives_each_texts_own_ids(kind, sst2_dir):
    texts = sst2_slice(sst2_dir, 2000) + TEXTS + ["a <pad> b", "<unk>"]
    tok = TextTokenizer.train(texts[:1000], kind=kind, vocab_size=2000)  # the rest has unknown words
    assert tok.encode_batch(texts) == [tok.encode(text) for text in texts]


def test_lowercase_option():
    assert TextTokenizer.train(TEXTS, kind="word", lowercase=False).tokenize("Hello") == ["Hello"]
    assert TextTokenizer.train(TEXTS, kind="word", lowercase=True).tokenize("Hello") == ["hello"]


def test_char_tokens_are_characters_with_single_spaces():
    tok = TextTokenizer.train(TEXTS, kind="char")
    assert tok.tokenize("Ab  c😀") == ["a", "b", " ", "c", "😀"]
    assert tok.tokenize("好用！") == ["好", "用", "!"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("text", TEXTS)
def test_every_kind_encodes_tricky_strings(kind, text):
    tok = TextTokenizer.train(TEXTS * 3, kind=kind, vocab_size=200)
    ids = tok.encode(text)
    assert all(0 <= i < len(tok) for i in ids)
    assert tok.encode_batch([text, text]) == [ids, ids]
    if not text.strip():
        assert ids == []
    else:
        assert ids and tok.pad_id not in ids


@pytest.mark.parametrize("kind", KINDS)
def test_specials_first_and_unknown_words_map_to_unk(kind):
    tok = TextTokenizer.train(["a b c", "a b", "a"], kind=kind, vocab_size=100)
    assert (tok.pad_id, tok.unk_id) == (0, 1)
    assert tok.vocab.get_itos()[:2] == [PAD, UNK]
    assert tok.encode("ζ") == [tok.unk_id]


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind, tmp_path, sst2_dir):
    texts = sst2_slice(sst2_dir)
    tok = TextTokenizer.train(texts, kind=kind, vocab_size=600)
    tok.save(tmp_path / "tokenizer.json")
    loaded = TextTokenizer.load(tmp_path / "tokenizer.json")
    assert loaded.vocab.get_itos() == tok.vocab.get_itos()
    assert loaded.encode_batch(texts + TEXTS) == tok.encode_batch(texts + TEXTS)


def test_subword_kinds_respect_vocab_size_and_cover_unseen_words(sst2_dir):
    texts = sst2_slice(sst2_dir)
    for kind in ("bpe", "wordpiece"):
        tok = TextTokenizer.train(texts, kind=kind, vocab_size=300)
        assert len(tok) <= 300
        pieces = tok.tokenize("unbelievably")  # split into known pieces, not one <unk>
        assert len(pieces) > 1 and UNK not in pieces


def test_word_vocab_frequency_bounds(sst2_dir):
    texts = sst2_slice(sst2_dir)
    small = TextTokenizer.train(texts, kind="word", vocab_size=50)
    assert len(small) == 50
    frequent = TextTokenizer.train(texts, kind="word", min_freq=5)
    everything = TextTokenizer.train(texts, kind="word")
    assert len(frequent) < len(everything)
    assert "the" in frequent.vocab and "," in frequent.vocab


def test_unreadable_tokenizer_file_is_named(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        TextTokenizer.load(bad)


def test_with_words_extends_a_word_vocabulary_after_its_own_ids() -> None:
    tokenizer = TextTokenizer.train(["the cat sat", "the dog"], "word")
    extended = tokenizer.with_words(["cat", "mouse", "house", "mouse"])
    assert len(extended) == len(tokenizer) + 2  # "cat" is known, "mouse" comes once
    old = tokenizer.vocab.get_itos()
    assert extended.vocab.get_itos()[:len(old)] == old  # existing ids do not move
    assert extended.encode("the mouse sat house zebra") == [
        tokenizer.encode("the")[0], len(old), tokenizer.encode("sat")[0], len(old) + 1, extended.unk_id]
    assert tokenizer.encode("mouse") == [tokenizer.unk_id]  # the original is unchanged


def test_with_words_refuses_a_subword_vocabulary() -> None:
    tokenizer = TextTokenizer.train(["the cat sat on the mat"] * 5, "bpe", vocab_size=40)
    with pytest.raises(ConfigError, match="needs a word-level vocabulary"):
        tokenizer.with_words(["mouse"])


def test_split_cjk_off_lets_bpe_learn_chinese_words() -> None:
    texts = ["这个手机很好用", "这个手机不好用", "屏幕很好", "手机屏幕不好"] * 20
    joined = TextTokenizer.train(texts, "bpe", vocab_size=60, split_cjk=False)
    split = TextTokenizer.train(texts, "bpe", vocab_size=60)
    assert all(len(token.removesuffix("</w>")) == 1 for token in split.tokenize("这个手机很好用"))
    pieces = [token.removesuffix("</w>") for token in joined.tokenize("这个手机很好用")]
    assert "".join(pieces) == "这个手机很好用" and max(len(piece) for piece in pieces) >= 2


@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
def test_subword_ids_are_the_same_on_every_training(kind: str) -> None:
    from nlp_lstm.data.sources import load_texts

    texts = load_texts("embedded:zh-reviews", "text", "label").texts[:3000]
    first = TextTokenizer.train(texts, kind, vocab_size=3000, min_freq=2, split_cjk=False)
    second = TextTokenizer.train(texts, kind, vocab_size=3000, min_freq=2, split_cjk=False)
    assert first.vocab.get_itos() == second.vocab.get_itos()  # the trainers alone order these differently
    assert first.vocab.get_itos()[:2] == [PAD, UNK]
    assert first.encode_batch(texts[:50]) == second.encode_batch(texts[:50])
