"""pad_sequences behaves as Keras's documented function: its documentation's examples, defaults, float
sequences, empty sequences, maxlen shorter than the sequences, vector elements and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_lstm import pad_sequences

SEQUENCE = [[1], [2, 3], [4, 5, 6]]


def test_the_keras_documentation_examples() -> None:
    out = pad_sequences(SEQUENCE)
    assert out.dtype == np.int32 and isinstance(out, np.ndarray)
    assert out.tolist() == [[0, 0, 1], [0, 2, 3], [4, 5, 6]]
    assert pad_sequences(SEQUENCE, value=-1).tolist() == [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]]
    assert pad_sequences(SEQUENCE, padding="post").tolist() == [[1, 0, 0], [2, 3, 0], [4, 5, 6]]
    assert pad_sequences(SEQUENCE, maxlen=2).tolist() == [[0, 1], [2, 3], [5, 6]]


def test_truncating_post_keeps_the_start_and_maxlen_longer_pads() -> None:
    assert pad_sequences(SEQUENCE, maxlen=2, truncating="post").tolist() == [[0, 1], [2, 3], [4, 5]]
    assert pad_sequences(SEQUENCE, maxlen=2, truncating="post", padding="post").tolist() == [[1, 0], [2, 3], [4, 5]]
    assert pad_sequences(SEQUENCE, maxlen=5).tolist() == [[0, 0, 0, 0, 1], [0, 0, 0, 2, 3], [0, 0, 4, 5, 6]]


def test_floats_become_int32_by_default_and_stay_floats_with_a_float_dtype() -> None:
    series = [[0.5, 1.7, -2.9], [3.2]]
    assert pad_sequences(series).tolist() == [[0, 1, -2], [0, 0, 3]]  # Keras casts, truncating toward zero
    floats = pad_sequences(series, dtype="float32", padding="post", value=-1.0)
    assert floats.dtype == np.float32
    np.testing.assert_allclose(floats, [[0.5, 1.7, -2.9], [3.2, -1.0, -1.0]], rtol=1e-6)


def test_empty_sequences_are_all_padding() -> None:
    assert pad_sequences([[], [1, 2], []], value=9).tolist() == [[9, 9], [1, 2], [9, 9]]
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[], []]).shape == (2, 0)


def test_vector_elements_keep_their_shape() -> None:
    out = pad_sequences([np.ones((2, 3)), np.full((1, 3), 2.0)], dtype="float32", padding="post")
    assert out.shape == (2, 2, 3)
    assert out[1].tolist() == [[2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match=r"Shape of sample \(4,\) of sequence at position 1 is different from "
                                         r"expected shape \(3,\)"):
        pad_sequences([np.ones((2, 3)), np.ones((1, 4))])


def test_strings_need_an_object_dtype() -> None:
    out = pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert out.tolist() == [["a", "b"], ["<pad>", "c"]]
    with pytest.raises(ValueError, match="is not compatible with `value`'s type"):
        pad_sequences([[1]], value="x")


@pytest.mark.parametrize("kwargs, message", [
    ({"padding": "middle"}, 'Padding type "middle" not understood'),
    ({"truncating": "both"}, 'Truncating type "both" not understood'),
])
def test_unknown_padding_or_truncating_is_an_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pad_sequences(SEQUENCE, **kwargs)


def test_non_iterables_are_refused() -> None:
    with pytest.raises(ValueError, match="must be a list of iterables. Found non-iterable: 3"):
        pad_sequences([[1, 2], 3])
    with pytest.raises(ValueError, match="`sequences` must be iterable"):
        pad_sequences(5)
