"""Text -> tokens -> ids on Hugging Face `tokenizers` pipelines: word, char, bpe and wordpiece.

Every kind shares one normalizer: NFKC (full-width forms become ASCII), control characters removed
(those that count as whitespace, such as form feed and NEL, become a space), optional lowercasing
(accents kept). `word` splits on whitespace, then into words (an inner apostrophe
stays: "don't", "n't") and single punctuation or symbol characters (emoji included); each CJK
ideograph is its own token, the usual unit for Chinese. `char` makes every character a token, runs
of whitespace becoming one space. `bpe` and `wordpiece` learn subwords on top of `word`'s splitting.
Ids 0 and 1 are always `<pad>` and `<unk>`.

Any Python str of Unicode text encodes, however long, whatever it holds (control characters, format
characters, private-use and unassigned code points): a text that normalizes to nothing gives no ids.
A str holding a lone surrogate (U+D800-U+DFFF, which Python allows but Unicode text cannot hold) or a
value that is not a str is a `DataError` naming the text's position in the call, e.g.
"text 3 holds the lone surrogate U+DCFF at character 5".
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from ..config import TOKENIZER_KINDS
from ..errors import ConfigError, DataError, ModelDirError
from .vocab import Vocab

PAD = "<pad>"
UNK = "<unk>"
SPECIALS = [PAD, UNK]
KINDS = TOKENIZER_KINDS  # word | char | bpe | wordpiece (one list, in nlp_lstm.config)
_WORD_PATTERN = Regex(r"\w+(?:['’]\w+)*|[^\w\s]")
_WHITESPACE_CONTROLS = "[\x0b\x0c\x1c-\x1f\x85]"  # VT, FF, FS, GS, RS, US, NEL
QUIET = {"show_progress": False}  # the Rust trainers otherwise print progress lines straight to the terminal
# Joins a sentence's words into one string for the word-level trainer (far fewer strings to pass to Rust); the
# ASCII unit separator is a starter character that Unicode normalization never composes across
WORD_SEPARATOR = "\x1f"


def _normalizer(lowercase: bool, chinese_chars: bool) -> normalizers.Normalizer:
    bert = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=chinese_chars, strip_accents=False, lowercase=lowercase
    )
    # BertNormalizer drops every control character, so a form feed or NEL between two words glued them
    # into one; the controls that Python and Unicode count as whitespace become a space first.
    whitespace_controls = normalizers.Replace(Regex(_WHITESPACE_CONTROLS), " ")
    return normalizers.Sequence([whitespace_controls, normalizers.NFKC(), bert])


def _word_pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(_WORD_PATTERN, behavior="isolated")]
    )


def _pipeline(kind: str, lowercase: bool, vocab_size: int, min_freq: int, split_cjk: bool = True
              ) -> tuple[HFTokenizer, trainers.Trainer]:
    """An untrained HF tokenizer of the given kind and the trainer that fills its vocabulary; `split_cjk`
    makes every CJK character a word of its own before the model sees it (off: bpe and wordpiece can
    learn multi-character Chinese words from unsegmented text)."""
    if kind == "word":
        tokenizer = HFTokenizer(models.WordLevel(unk_token=UNK))
        tokenizer.normalizer = _normalizer(lowercase, chinese_chars=split_cjk)
        tokenizer.pre_tokenizer = _word_pre_tokenizer()
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_freq,
                                            special_tokens=SPECIALS, **QUIET)
    elif kind == "char":
        tokenizer = HFTokenizer(models.WordLevel(unk_token=UNK))
        tokenizer.normalizer = normalizers.Sequence([
            _normalizer(lowercase, chinese_chars=False),
            normalizers.Replace(Regex(r"\s+"), " "),
            normalizers.Strip(),
        ])
        tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_freq,
                                            special_tokens=SPECIALS, **QUIET)
    elif kind == "bpe":
        tokenizer = HFTokenizer(models.BPE(unk_token=UNK, end_of_word_suffix="</w>"))
        tokenizer.normalizer = _normalizer(lowercase, chinese_chars=split_cjk)
        tokenizer.pre_tokenizer = _word_pre_tokenizer()
        tokenizer.decoder = decoders.BPEDecoder(suffix="</w>")
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_freq, special_tokens=SPECIALS, end_of_word_suffix="</w>", **QUIET
        )
    elif kind == "wordpiece":
        tokenizer = HFTokenizer(models.WordPiece(unk_token=UNK))
        tokenizer.normalizer = _normalizer(lowercase, chinese_chars=split_cjk)
        tokenizer.pre_tokenizer = _word_pre_tokenizer()
        tokenizer.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_freq,
                                            special_tokens=SPECIALS, **QUIET)
    else:
        raise ConfigError(f"The 'tokenizer.kind' parameter must be one of {', '.join(KINDS)}. Got {kind!r} instead.")
    return tokenizer, trainer


def _word_level(lowercase: bool, digits_to_zero: bool) -> HFTokenizer:
    """A tokenizer for text that is already split into words: one id per word, never split further."""
    tokenizer = HFTokenizer(models.WordLevel(unk_token=UNK))
    steps = [normalizers.NFKC()]
    if lowercase:
        steps.append(normalizers.Lowercase())
    if digits_to_zero:
        steps.append(normalizers.Replace(Regex(r"\d"), "0"))
    tokenizer.normalizer = normalizers.Sequence(steps)
    return tokenizer


def _check_inputs(texts: Sequence[object], pretokenized: bool = False) -> None:
    """Raise a DataError for the first text (or word of a pre-split sentence) the Rust tokenizer cannot take:
    a non-str, or a str with a lone surrogate. Called only once the tokenizer has failed, so valid input
    pays nothing."""
    for number, text in enumerate(texts, start=1):
        what = f"text {number}"
        if pretokenized:
            if isinstance(text, str) or not isinstance(text, Sequence):
                raise DataError(f"{what} must be a list of words (str), got {type(text).__name__}")
            for position, word in enumerate(text, start=1):
                _check_text(word, f"{what}: word {position}")
        else:
            _check_text(text, what)


def _check_text(text: object, what: str) -> None:
    if not isinstance(text, str):
        raise DataError(f"{what} must be a str, got {type(text).__name__}: {repr(text)[:80]}")
    for position, char in enumerate(text, start=1):
        if "\ud800" <= char <= "\udfff":
            raise DataError(f"{what} holds the lone surrogate U+{ord(char):04X} at character {position}; "
                            f"expected Unicode text (bytes decoded with errors='surrogateescape', e.g. a "
                            f"command-line argument that is not UTF-8?)")


def _canonical_ids(tokenizer: HFTokenizer) -> HFTokenizer:
    """The same subword tokenizer with its ids in a fixed order (specials, then tokens sorted). The
    subword trainers add the end-of-word forms of the alphabet in hash-map order, so the same data gave
    other ids on every run, and with them another model; the merges and the token set do not vary."""
    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    order = SPECIALS + sorted(token for token in vocab if token not in SPECIALS)
    data["model"]["vocab"] = {token: k for k, token in enumerate(order)}
    return HFTokenizer.from_str(json.dumps(data))


def _specials_first(tokenizer: HFTokenizer) -> HFTokenizer:
    """The tokenizer with `<pad>` = 0, `<unk>` = 1 and the other ids after them without gaps, in their order.
    Fed the word "<pad>" or "<unk>" (a CoNLL token, say, or "<PAD>" lowercased), the word-level trainer put
    the specials at other ids and skipped one, so an id equal to the vocabulary size reached the embedding
    and training failed inside torch."""
    vocab = tokenizer.get_vocab()
    if [vocab.get(token) for token in SPECIALS] == [0, 1] and sorted(vocab.values()) == list(range(len(vocab))):
        return tokenizer
    data = json.loads(tokenizer.to_str())
    order = SPECIALS + [token for token in sorted(vocab, key=vocab.__getitem__) if token not in SPECIALS]
    data["model"]["vocab"] = {token: k for k, token in enumerate(order)}
    for added in data["added_tokens"]:
        if added["content"] in SPECIALS:
            added["id"] = SPECIALS.index(added["content"])
    return HFTokenizer.from_str(json.dumps(data))


class TextTokenizer:
    """Turns texts into token ids; wraps a trained `tokenizers.Tokenizer` saved as one tokenizer.json.

    The specials are never read from the input: a text holding "<pad>" or "<unk>" is tokenized like any
    other text, and a pre-split word "<pad>" gets `<unk>`, so id 0 only ever means padding."""

    def __init__(self, tokenizer: HFTokenizer) -> None:
        if hasattr(tokenizer, "encode_special_tokens"):  # tokenizers >= 0.15.1; not saved in tokenizer.json
            tokenizer.encode_special_tokens = True
        self.tokenizer = tokenizer
        self.vocab = Vocab(sorted(tokenizer.get_vocab(), key=tokenizer.token_to_id))
        self.vocab.set_default_index(self.vocab[UNK])
        self.pad_id = self.vocab[PAD]
        self.unk_id = self.vocab[UNK]

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        kind: str = "word",
        lowercase: bool = True,
        vocab_size: int = 50000,
        min_freq: int = 1,
        split_cjk: bool = True,
    ) -> TextTokenizer:
        """Learn a vocabulary of at most `vocab_size` tokens (specials included) from training texts."""
        tokenizer, trainer = _pipeline(kind, lowercase, vocab_size, min_freq, split_cjk)
        texts = texts if isinstance(texts, Sequence) else list(texts)
        try:
            tokenizer.train_from_iterator(texts, trainer=trainer)
        except (TypeError, UnicodeEncodeError):
            _check_inputs(texts)
            raise
        if kind in ("bpe", "wordpiece"):
            tokenizer = _canonical_ids(tokenizer)
        return cls(_specials_first(tokenizer))

    @classmethod
    def train_words(
        cls,
        sentences: Iterable[Sequence[str]],
        lowercase: bool = False,
        digits_to_zero: bool = False,
        vocab_size: int = 50000,
        min_freq: int = 1,
    ) -> TextTokenizer:
        """Learn a word vocabulary from pre-split sentences (for taggers: one id per given word)."""
        tokenizer = _word_level(lowercase, digits_to_zero)
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_freq,
                                            special_tokens=SPECIALS, **QUIET)
        sentences = sentences if isinstance(sentences, Sequence) else list(sentences)
        try:
            if any(WORD_SEPARATOR in "".join(sentence) for sentence in sentences):
                words = (word for sentence in sentences for word in sentence)  # one string a word: slower
            else:  # one string a sentence, split again by a pre-tokenizer used for training only
                tokenizer.pre_tokenizer = pre_tokenizers.Split(WORD_SEPARATOR, behavior="removed")
                words = (WORD_SEPARATOR.join(sentence) for sentence in sentences)
            tokenizer.train_from_iterator(words, trainer=trainer)
        except (TypeError, UnicodeEncodeError):
            _check_inputs(sentences, pretokenized=True)
            raise
        if tokenizer.pre_tokenizer is not None:  # drop it (tokenizers 0.15 cannot set it to None)
            tokenizer = HFTokenizer.from_str(json.dumps({**json.loads(tokenizer.to_str()), "pre_tokenizer": None}))
        return cls(_specials_first(tokenizer))

    def with_words(self, words: Iterable[str]) -> TextTokenizer:
        """A copy whose vocabulary also holds `words` (new ids after the existing ones, in the given order);
        word-level tokenizers only, since a subword vocabulary cannot take whole words."""
        if not isinstance(self.tokenizer.model, models.WordLevel):
            raise ConfigError(f"adding pretrained words needs a word-level vocabulary (tokenizer.kind = word or "
                              f"char, or a tagger); this one is {type(self.tokenizer.model).__name__}")
        vocab = self.tokenizer.get_vocab()
        for word in words:
            vocab.setdefault(word, len(vocab))
        extended = HFTokenizer.from_str(self.tokenizer.to_str())
        extended.model = models.WordLevel(vocab, unk_token=UNK)
        return TextTokenizer(extended)

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"TextTokenizer(vocab_size={len(self)}, model={type(self.tokenizer.model).__name__})"

    def tokenize(self, text: str) -> list[str]:
        """The tokens of one text (unknown words keep their surface form)."""
        try:
            if isinstance(self.tokenizer.model, models.WordLevel):
                normalized = self.tokenizer.normalizer.normalize_str(text)
                return [piece for piece, _ in self.tokenizer.pre_tokenizer.pre_tokenize_str(normalized)]
            return self.tokenizer.encode(text, add_special_tokens=False).tokens
        except (TypeError, UnicodeEncodeError):
            _check_text(text, "the text")
            raise

    def encode(self, text: str) -> list[int]:
        """The token ids of one text."""
        try:
            return self._no_padding(self.tokenizer.encode(text, add_special_tokens=False).ids)
        except (TypeError, UnicodeEncodeError):
            _check_text(text, "the text")
            raise

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The token ids of one text (as `encode`) and each token's (start, end) characters in `text`."""
        try:
            encoding = self.tokenizer.encode(text, add_special_tokens=False)
        except (TypeError, UnicodeEncodeError):
            _check_text(text, "the text")
            raise
        return self._no_padding(encoding.ids), [tuple(span) for span in encoding.offsets]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids of many texts, encoded in parallel by the Rust batch API."""
        texts = list(texts)
        # encode_batch_fast (tokenizers >= 0.20) skips the character offsets, which ids do not need
        encode = getattr(self.tokenizer, "encode_batch_fast", self.tokenizer.encode_batch)
        try:
            encodings = encode(texts, add_special_tokens=False)
        except (TypeError, UnicodeEncodeError):
            _check_inputs(texts)
            raise
        return [self._no_padding(encoding.ids) for encoding in encodings]

    def _no_padding(self, ids: list[int]) -> list[int]:
        """`ids` with the padding id, which only a literal "<pad>" in the input can give, made `<unk>`."""
        return [self.unk_id if i == self.pad_id else i for i in ids] if self.pad_id in ids else ids

    def encode_words_batch(self, sentences: Sequence[Sequence[str]]) -> list[list[int]]:
        """One id per given word (the id of its last piece, should the pipeline split it); a word that normalizes to
        nothing gets `<unk>`."""
        try:
            sentences = [s if isinstance(s, list) else list(s) for s in sentences]
            # each word of pre-split input goes through the pipeline alone, so every distinct word is encoded once
            words = list(dict.fromkeys(itertools.chain.from_iterable(sentences)))
            encodings = self.tokenizer.encode_batch([[word] for word in words], is_pretokenized=True,
                                                    add_special_tokens=False)
        except (TypeError, UnicodeEncodeError):
            _check_inputs(sentences, pretokenized=True)
            raise
        ids = {word: self._no_padding(encoding.ids[-1:])[0] if encoding.ids else self.unk_id
               for word, encoding in zip(words, encodings)}
        return [list(map(ids.__getitem__, sentence)) for sentence in sentences]

    def decode(self, ids: Sequence[int]) -> str:
        """Text from token ids (lossy: normalization and unknown words are not undone)."""
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def save(self, path: str | Path) -> None:
        """Write the whole pipeline (normalizer, pre-tokenizer, model, vocab) as one JSON file."""
        self.tokenizer.save(str(path))

    @classmethod
    def load(cls, path: str | Path) -> TextTokenizer:
        """Read a tokenizer written by `save`."""
        try:
            return cls(HFTokenizer.from_file(str(path)))
        except Exception as err:  # the Rust loader raises plain Exception
            raise ModelDirError(f"{path}: not a readable tokenizer.json ({err})") from None
