"""SequenceRegressor (numeric sequences in, a number out) keeps scikit-learn's contract, learns a real
signal through the toolkit's Trainer, never reads padding, and names bad input; the seed tutorial's
Keras model (recipes/seed_keras_lstm.py) runs end to end and beats the naive forecast."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT
from sklearn.base import clone

from nlp_lstm import SequenceRegressor


def sine(n: int = 400, window: int = 12) -> tuple[list[np.ndarray], np.ndarray]:
    t = np.arange(n + window)
    series = np.sin(t / 6) + 0.05 * np.random.default_rng(0).normal(size=len(t))
    return [series[i - window:i] for i in range(window, len(series))], series[window:]


def test_it_learns_a_signal_and_beats_the_naive_forecast() -> None:
    X, y = sine()
    model = SequenceRegressor(hidden_size=16, num_layers=2, epochs=15, batch_size=32, learning_rate=5e-3,
                              device="cpu")
    assert model.fit(X[:300], y[:300]) is model
    predicted = model.predict(X[300:])
    assert predicted.shape == (len(X) - 300,) and predicted.dtype == np.float64
    naive = np.array([x[-1] for x in X[300:]])
    assert np.mean((predicted - y[300:]) ** 2) < 0.5 * np.mean((naive - y[300:]) ** 2)
    assert model.score(X[300:], y[300:]) > 0.9  # R², scikit-learn's RegressorMixin
    assert len(model.history_) == 15 and model.n_features_in_ == 1


def test_scikit_learn_contract_and_early_stopping_on_eval_set() -> None:
    model = SequenceRegressor(hidden_size=8, epochs=6, patience=2, random_state=3)
    params = model.get_params()
    assert params["hidden_size"] == 8 and params["random_state"] == 3
    assert clone(model).get_params() == params
    X, y = sine(120)
    model.set_params(device="cpu").fit(X[:80], y[:80], eval_set=(X[80:], y[80:]))
    assert "dev_mse" in model.history_[0] and "dev_mae" in model.history_[0]
    again = SequenceRegressor(hidden_size=8, epochs=6, patience=2, random_state=3, device="cpu")
    again.fit(X[:80], y[:80], eval_set=(X[80:], y[80:]))
    np.testing.assert_array_equal(again.predict(X[80:]), model.predict(X[80:]))  # the seed fixes everything


def test_padding_is_never_read_and_vectors_are_features() -> None:
    rng = np.random.default_rng(1)
    X = [rng.normal(size=(n, 3)) for n in (2, 9, 5, 1, 9)]
    y = rng.normal(size=5)
    model = SequenceRegressor(hidden_size=6, epochs=2, device="cpu").fit(X, y)
    together = model.predict(X)
    alone = np.array([model.predict([x])[0] for x in X])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert model.n_features_in_ == 3


@pytest.mark.parametrize("X, y, message", [
    ([], [], "non-empty list of numeric sequences"),
    ([[1.0, 2.0], []], [1.0, 2.0], r"X\[1\] must be a non-empty sequence"),
    ([[1.0, float("nan")]], [1.0], r"X\[0\] holds NaN"),
    ([[[1.0, 2.0]], [[1.0, 2.0, 3.0]]], [1.0, 2.0], r"X\[1\] has 3 features per step; expected 2"),
    ([[1.0], ["a"]], [1.0, 2.0], r"X\[1\] is not a sequence of numbers"),
    ([[1.0], [2.0]], [1.0], "2 sequences, 1 targets"),
    ([[1.0]], [float("inf")], "y holds NaN or infinite values"),
])
def test_bad_input_is_named(X: list, y: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SequenceRegressor(epochs=1, device="cpu").fit(X, y)


def test_the_seed_tutorials_keras_model_beats_the_naive_forecast(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("statsmodels")
    spec = importlib.util.spec_from_file_location("seed_keras_lstm", REPO_ROOT / "recipes" / "seed_keras_lstm.py")
    recipe = importlib.util.module_from_spec(spec)
    sys.modules["seed_keras_lstm"] = recipe
    spec.loader.exec_module(recipe)
    result = recipe.main([])  # the tutorial's settings in full: 100 epochs, batch 32 (a few seconds)
    out = capsys.readouterr().out
    assert result["train_years"] == (1701, 1946) and result["test_years"] == (1947, 2008)  # split in time order
    assert result["n_train"] == 246 and result["n_test"] == 62
    assert result["test_mse"] < 0.6 * result["naive_mse"]
    assert "better than naive by" in out and np.isfinite(result["forecast"])
    assert "test MSE" in out and "predicted sunspot number for 2009" in out
