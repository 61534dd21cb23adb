"""Vocab, vocab() and build_vocab_from_iterator against torchtext 0.18 semantics, worked by hand."""

import json
import pickle
from collections import OrderedDict

import pytest

from nlp_lstm.text.vocab import Vocab, VocabLookupError, build_vocab_from_iterator, vocab


def itos_of(iterator, **kwargs):
    return build_vocab_from_iterator(iterator, **kwargs).get_itos()


# build_vocab_from_iterator: order, ties, min_freq, specials, max_tokens


def test_orders_by_descending_frequency():
    assert itos_of([["b", "a", "b"], ["c", "b", "a"]]) == ["b", "a", "c"]


@pytest.mark.parametrize(
    "corpus, expected",
    [
        ([["z", "y", "x"]], ["x", "y", "z"]),  # lexicographic, not order of first appearance
        ([["a", "b"], ["b"]], ["b", "a"]),  # frequency still comes first
        ([["b", "B", "a"]], ["B", "a", "b"]),  # code point order: upper case before lower case
        ([["😀", "文", "中", "é", "z", ""]], ["", "z", "é", "中", "文", "😀"]),
    ],
)
def test_breaks_frequency_ties_lexicographically(corpus, expected):
    assert itos_of(corpus) == expected


def test_min_freq_drops_rare_tokens_but_never_specials():
    corpus = [["a", "a", "b", "c", "c", "c"]]
    assert itos_of(corpus, min_freq=2) == ["c", "a"]
    assert itos_of(corpus, min_freq=4, specials=["<unk>"]) == ["<unk>"]


def test_specials_first_or_last_in_given_order():
    corpus = [["x", "y", "y"]]
    assert itos_of(corpus, specials=["<unk>", "<pad>"]) == ["<unk>", "<pad>", "y", "x"]
    assert itos_of(corpus, specials=["<unk>", "<pad>"], special_first=False) == ["y", "x", "<unk>", "<pad>"]


def test_specials_that_occur_in_the_corpus_are_not_counted_as_tokens():
    corpus = [["<pad>", "<pad>", "<pad>", "a"], ["<unk>"]]
    assert itos_of(corpus, specials=["<unk>", "<pad>"]) == ["<unk>", "<pad>", "a"]
    assert itos_of(corpus, specials=["<unk>", "<pad>"], special_first=False) == ["a", "<unk>", "<pad>"]


def test_max_tokens_without_specials_keeps_the_most_frequent():
    corpus = [["a", "a", "a", "b", "b", "c"]]
    assert itos_of(corpus, max_tokens=2) == ["a", "b"]
    assert itos_of(corpus, max_tokens=10) == ["a", "b", "c"]


def test_max_tokens_ties_at_the_cut_are_decided_lexicographically():
    assert itos_of([["c", "b", "a"]], max_tokens=2) == ["a", "b"]


def test_max_tokens_counts_the_specials():
    corpus = [["hello", "world"], ["hello"]]
    assert itos_of(corpus, specials=["<unk>", "<pad>"], max_tokens=3) == ["<unk>", "<pad>", "hello"]
    last = itos_of(corpus, specials=["<unk>", "<pad>"], max_tokens=3, special_first=False)
    assert last == ["hello", "<unk>", "<pad>"]


def test_max_tokens_with_a_special_in_the_corpus_yields_fewer_tokens_like_torchtext():
    # ranked <unk>:5, a:2, b:1 -> cut to max_tokens - 1 = 2 entries [<unk>, a] -> drop <unk> -> [a]
    corpus = [["<unk>"] * 5 + ["a", "a", "b"]]
    v = build_vocab_from_iterator(corpus, specials=["<unk>"], max_tokens=3)
    assert v.get_itos() == ["<unk>", "a"]
    assert len(v) == 2


@pytest.mark.parametrize("specials, max_tokens", [(["<unk>", "<pad>"], 2), (["<unk>", "<pad>"], 1), ([], 0)])
def test_max_tokens_without_room_for_corpus_tokens_raises(specials, max_tokens):
    with pytest.raises(ValueError, match=rf"max_tokens={max_tokens} leaves no room .* len\(specials\)={len(specials)}"):
        build_vocab_from_iterator([["a"]], specials=specials, max_tokens=max_tokens)


def test_empty_corpus_and_lazy_inputs():
    assert itos_of([]) == []
    assert itos_of(iter([]), specials=["<unk>"]) == ["<unk>"]
    assert itos_of((t for t in line.split()) for line in ["b a", "b"]) == ["b", "a"]


def test_duplicate_specials_raise():
    with pytest.raises(ValueError, match="Duplicate token found in tokens list: '<unk>'"):
        build_vocab_from_iterator([["a"]], specials=["<unk>", "<unk>"])


# vocab(ordered_dict)


def test_vocab_factory_keeps_the_dict_order_and_filters_by_min_freq():
    counts = OrderedDict([("b", 3), ("a", 1), ("c", 2)])
    assert vocab(counts).get_itos() == ["b", "a", "c"]
    assert vocab(counts, min_freq=2).get_itos() == ["b", "c"]


def test_vocab_factory_specials_and_input_left_unmodified():
    counts = {"hello": 4, "<pad>": 9, "world": 3, "ᑌᑎIᑕOᗪᕮ": 5, "rare": 2}
    v = vocab(counts, min_freq=3, specials=["<unk>", "<pad>"])
    assert v.get_itos() == ["<unk>", "<pad>", "hello", "world", "ᑌᑎIᑕOᗪᕮ"]
    assert vocab(counts, min_freq=3, specials=["<pad>"], special_first=False).get_itos() == [
        "hello", "world", "ᑌᑎIᑕOᗪᕮ", "<pad>"
    ]
    assert "<pad>" in counts


def test_vocab_factory_docstring_example_from_torchtext():
    v2 = vocab(OrderedDict((token, 1) for token in ["e", "d", "c", "b", "a"]), specials=["<unk>"])
    v2.set_default_index(-1)
    assert v2["<unk>"] == 0
    assert v2["out of vocab"] == -1
    v2.set_default_index(v2["<unk>"])
    assert v2["out of vocab"] == v2["<unk>"]


# Vocab: construction, lookups, default index


@pytest.fixture
def abc() -> Vocab:
    return Vocab(["a", "b", "c"])


def test_constructor_and_basic_lookups(abc):
    assert len(abc) == 3
    assert abc["b"] == 1
    assert "c" in abc and "d" not in abc
    assert abc.get_default_index() is None
    assert Vocab(["a"], default_index=0)["zzz"] == 0
    assert len(Vocab()) == 0


def test_constructor_rejects_duplicates_non_str_tokens_and_a_bare_str():
    with pytest.raises(ValueError, match="Duplicate token found in tokens list: 'a'"):
        Vocab(["a", "b", "a"])
    with pytest.raises(TypeError, match="tokens must be str, got int: 5"):
        Vocab(["a", 5])
    with pytest.raises(TypeError, match="got the str 'abc'"):
        Vocab("abc")


def test_unknown_token_without_default_index_raises_runtime_error(abc):
    with pytest.raises(VocabLookupError, match="Token 'x' not found and default index is not set"):
        abc["x"]
    with pytest.raises(RuntimeError, match="Token 'x' not found"):
        abc.lookup_indices(["a", "x"])


def test_default_index_set_and_unset(abc):
    abc.set_default_index(2)
    assert abc["x"] == 2
    assert abc.get_default_index() == 2
    assert "x" not in abc
    abc.set_default_index(-1)
    assert abc.lookup_indices(["x", "a"]) == [-1, 0]
    abc.set_default_index(None)
    assert abc.get_default_index() is None
    with pytest.raises(VocabLookupError):
        abc["x"]


def test_default_index_accepts_int_likes_and_rejects_floats(abc):
    class NumpyLikeInt:
        def __index__(self):
            return 1

    abc.set_default_index(NumpyLikeInt())
    assert abc.get_default_index() == 1 and type(abc.get_default_index()) is int
    with pytest.raises(TypeError):
        abc.set_default_index(1.0)


def test_call_forward_and_lookup_indices_agree(abc):
    tokens = ["b", "a", "c"]
    assert abc(tokens) == abc.forward(tokens) == abc.lookup_indices(tokens) == [1, 0, 2]
    assert abc([]) == []
    with pytest.raises(TypeError, match="got the str 'ab'"):
        abc("ab")


def test_lookup_token_and_tokens(abc):
    assert abc.lookup_token(1) == "b"
    assert abc.lookup_tokens([2, 0, 2]) == ["c", "a", "c"]
    assert abc.lookup_tokens([]) == []


@pytest.mark.parametrize("index", [3, 100, -1])
def test_lookup_token_out_of_bounds_raises(abc, index):
    with pytest.raises(VocabLookupError, match=rf"Specified index {index} is out of bounds for vocab of size 3"):
        abc.lookup_token(index)


def test_lookup_tokens_error_names_index_and_position(abc):
    message = "Specified index 5 at position 2 is out of bounds for vocab of size 3"
    with pytest.raises(VocabLookupError, match=message):
        abc.lookup_tokens([0, 1, 5, -7])


def test_get_stoi_and_get_itos_are_copies(abc):
    stoi, itos = abc.get_stoi(), abc.get_itos()
    assert stoi == {"a": 0, "b": 1, "c": 2} and itos == ["a", "b", "c"]
    stoi["z"] = 9
    itos.append("z")
    assert "z" not in abc and len(abc) == 3


# Vocab: editing


def test_append_token(abc):
    abc.append_token("d")
    assert abc.get_itos() == ["a", "b", "c", "d"] and abc["d"] == 3
    with pytest.raises(VocabLookupError, match="Token 'b' already exists in the Vocab with index: 1"):
        abc.append_token("b")


@pytest.mark.parametrize(
    "index, expected",
    [(0, ["new", "a", "b", "c"]), (1, ["a", "new", "b", "c"]), (3, ["a", "b", "c", "new"])],
)
def test_insert_token_shifts_later_indices(abc, index, expected):
    abc.insert_token("new", index)
    assert abc.get_itos() == expected
    assert abc.get_stoi() == {token: i for i, token in enumerate(expected)}


def test_insert_token_does_not_move_the_default_index():
    v = Vocab(["<unk>", "a"])
    v.set_default_index(v["<unk>"])
    v.insert_token("b", 0)
    assert v.get_itos() == ["b", "<unk>", "a"]
    assert v["oov"] == 0 and v.lookup_token(0) == "b"


@pytest.mark.parametrize("index", [4, -1])
def test_insert_token_out_of_bounds_raises(abc, index):
    with pytest.raises(VocabLookupError, match=rf"Specified index {index} is out of bounds for vocab of size 3"):
        abc.insert_token("new", index)
    assert abc.get_itos() == ["a", "b", "c"]


def test_insert_existing_or_non_str_token_raises(abc):
    with pytest.raises(VocabLookupError, match="Token 'a' already exists in the Vocab with index: 0"):
        abc.insert_token("a", 2)
    with pytest.raises(TypeError, match="tokens must be str"):
        abc.insert_token(7, 0)
    assert abc.get_itos() == ["a", "b", "c"]


# Vocab: repr, equality, iteration, serialization


def test_repr_shows_size_and_default_index(abc):
    assert repr(abc) == "Vocab(size=3, default_index=None)"
    abc.set_default_index(0)
    assert repr(abc) == "Vocab(size=3, default_index=0)"


def test_equality_compares_tokens_and_default_index(abc):
    assert abc == Vocab(["a", "b", "c"])
    assert abc != Vocab(["b", "a", "c"])
    assert abc != Vocab(["a", "b", "c"], default_index=0)
    assert abc != ["a", "b", "c"]


def test_vocab_is_not_iterable_even_with_a_default_index(abc):
    abc.set_default_index(0)
    with pytest.raises(TypeError):
        list(abc)


def test_to_dict_from_dict_round_trip_through_json():
    v = Vocab(["<unk>", "", "中文", "😀", "naïve"], default_index=0)
    data = json.loads(json.dumps(v.to_dict()))
    assert data == {"itos": ["<unk>", "", "中文", "😀", "naïve"], "default_index": 0}
    restored = Vocab.from_dict(data)
    assert restored == v and restored["missing"] == 0
    assert Vocab.from_dict(Vocab(["a"]).to_dict()).get_default_index() is None


def test_to_dict_is_a_copy(abc):
    abc.to_dict()["itos"].append("z")
    assert len(abc) == 3


@pytest.mark.parametrize(
    "data, message",
    [
        (["a", "b"], "must be a dict, got list"),
        ({"default_index": 0}, "'itos' must be a list of str, got NoneType"),
        ({"itos": "ab"}, "'itos' must be a list of str, got str"),
        ({"itos": ["a", 3]}, "must hold only str, got 3 at position 1"),
        ({"itos": ["a"], "default_index": "0"}, "'default_index' must be an int or null, got '0'"),
        ({"itos": ["a"], "default_index": True}, "'default_index' must be an int or null, got True"),
        ({"itos": ["a"], "stoi": {}}, r"extra keys \['stoi'\]"),
        ({"itos": ["a", "a"]}, "Duplicate token found in tokens list: 'a'"),
    ],
)
def test_from_dict_rejects_malformed_data(data, message):
    with pytest.raises(ValueError, match=message):
        Vocab.from_dict(data)


def test_pickle_round_trip():
    v = build_vocab_from_iterator([["a", "b", "b"]], specials=["<unk>"])
    v.set_default_index(0)
    assert pickle.loads(pickle.dumps(v)) == v


# Non-ASCII and empty-string tokens


def test_non_ascii_and_empty_string_tokens():
    v = build_vocab_from_iterator([["我", "爱", "自然", "语言", "处理", "😀", "😀", ""]], specials=["<unk>"])
    assert v.get_itos() == ["<unk>", "😀", "", "处理", "我", "爱", "自然", "语言"]
    assert v(["自然", "", "😀"]) == [6, 2, 1]
    assert "" in v and v.lookup_token(2) == ""
    with pytest.raises(VocabLookupError, match="Token '' not found"):
        Vocab(["a"])[""]
    with pytest.raises(VocabLookupError, match="Token '🙃' not found"):
        v["🙃"]


# The torchtext text-classification tutorial, unchanged but for the import


def test_torchtext_tutorial_snippet_runs_unchanged():
    train_iter = [(1, "Here is an example"), (2, "here is another one"), (1, "An example")]

    def tokenizer(text):
        return text.lower().split()

    def yield_tokens(data_iter):
        for _, text in data_iter:
            yield tokenizer(text)

    vocab = build_vocab_from_iterator(yield_tokens(train_iter), specials=["<unk>"])
    vocab.set_default_index(vocab["<unk>"])

    # counts: an 2, example 2, here 2, is 2, another 1, one 1
    assert vocab.get_itos() == ["<unk>", "an", "example", "here", "is", "another", "one"]
    assert vocab(["here", "is", "an", "example"]) == [3, 4, 1, 2]

    text_pipeline = lambda x: vocab(tokenizer(x))  # noqa: E731
    label_pipeline = lambda x: int(x) - 1  # noqa: E731
    assert text_pipeline("here is the an unseen example") == [3, 4, 0, 1, 0, 2]
    assert label_pipeline("10") == 9
    assert len(vocab) == 7
