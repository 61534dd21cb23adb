"""The seed tutorial's Keras LSTM, rebuilt with nlp-lstm's pieces, on a real series that works offline:
the yearly sunspot numbers 1700-2008 shipped by statsmodels (`pip install statsmodels`, or `.[examples]`).

Each step of the tutorial, and what does it here:
  data           statsmodels.datasets.sunspots: 309 yearly values of SUNACTIVITY
  sequences      for each year, the --window (10) values before it (fewer for the first years), padded after
                 the values with nlp_lstm.pad_sequences(padding="post", dtype="float32"), as the tutorial does
  split          in time order: the first 80% of the target years train, the last 20% test
  normalization  every value divided by the training maximum (the largest value up to the last training year)
  model          LSTM(50, return_sequences=True) -> LSTM(50) -> Dense(1): SequenceRegressor(hidden_size=50,
                 num_layers=2), Keras's initialisation
  training       Adam (learning rate 0.001), mean squared error, epochs=100, batch_size=32
  evaluate       test MSE (on the normalized scale, as model.evaluate reports it, and as RMSE in sunspot
                 numbers), next to the naive forecast "next year = this year"
  predict        the year after the data

The padded sequences go to the model as one array, as in Keras: the first years' windows end in padding
zeros that the LSTM reads. (Given a list of unpadded sequences instead, SequenceRegressor skips padding.)
With Keras installed, `--keras` also trains the same network in Keras on the same arrays.

    python recipes/seed_keras_lstm.py              # a few seconds on one CPU thread
    python recipes/seed_keras_lstm.py --epochs 20 --keras
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np


def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Years and yearly sunspot numbers, 1700-2008, from statsmodels' bundled data (no download)."""
    try:
        from statsmodels.datasets import sunspots
    except ImportError:
        sys.exit("this recipe reads statsmodels' sunspot data: pip install statsmodels (or pip install -e .[examples])")
    data = sunspots.load_pandas().data
    return data["YEAR"].to_numpy(dtype=int), data["SUNACTIVITY"].to_numpy(dtype=np.float32)


def windows(series: np.ndarray, window: int) -> tuple[list[np.ndarray], np.ndarray]:
    """For each position t >= 1: the up to `window` values before it, and the value at t."""
    inputs = [series[max(0, t - window):t] for t in range(1, len(series))]
    return inputs, series[1:]


def keras_mse(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, epochs: int,
              seed: int) -> float | None:
    """Test MSE of the same network trained in Keras on the same arrays, or None without Keras."""
    try:
        import keras
    except ImportError:
        return None
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=x_train.shape[1:]), keras.layers.LSTM(50, return_sequences=True),
                              keras.layers.LSTM(50), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mean_squared_error")
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    return float(model.evaluate(x_test, y_test, verbose=0))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--window", type=int, default=10, help="years of history per sequence")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keras", action="store_true", help="also train the same network in Keras, if installed")
    args = parser.parse_args(argv)
    import torch

    from nlp_lstm import SequenceRegressor, pad_sequences

    # 50 hidden units and batches of 32: one thread is fastest, and a second one only spins when the CPU is busy
    torch.set_num_threads(1)

    years, series = load_sunspots()
    inputs, targets = windows(series, args.window)
    target_years = years[1:]
    n_train = int(round(len(targets) * (1 - args.test_fraction)))
    scale = float(series[: n_train + 1].max())  # the training maximum: every value seen by training, no later
    x = pad_sequences([w / scale for w in inputs], maxlen=args.window, dtype="float32", padding="post")[:, :, None]
    y = targets / scale
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    print(f"sunspots {years[0]}-{years[-1]}: {len(series)} yearly values; {len(targets)} sequences of up to "
          f"{args.window} years; train {target_years[0]}-{target_years[n_train - 1]} ({n_train}), test "
          f"{target_years[n_train]}-{target_years[-1]} ({len(targets) - n_train}); values divided by the training "
          f"maximum {scale:g}")

    started = time.perf_counter()
    model = SequenceRegressor(hidden_size=50, num_layers=2, epochs=args.epochs, batch_size=32, learning_rate=1e-3,
                              random_state=args.seed, device="cpu")
    model.fit(x_train, y_train)
    seconds = time.perf_counter() - started
    predicted = model.predict(x_test)
    test_mse = float(np.mean((predicted - y_test) ** 2))
    naive = x_test[np.arange(len(x_test)), np.minimum(args.window, np.arange(n_train, len(targets)) + 1) - 1, 0]
    naive_mse = float(np.mean((naive - y_test) ** 2))
    rmse, naive_rmse = np.sqrt(test_mse) * scale, np.sqrt(naive_mse) * scale
    print(f"nlp-lstm LSTM(50) -> LSTM(50) -> Dense(1), {args.epochs} epochs in {seconds:.1f} s: train MSE "
          f"{model.history_[-1]['train_loss']:.5f}")
    print(f"test MSE {test_mse:.5f} (RMSE {rmse:.1f} sunspots); naive forecast, next year = this year: "
          f"MSE {naive_mse:.5f} (RMSE {naive_rmse:.1f}); {'better' if test_mse < naive_mse else 'NOT better'} "
          f"than naive by {100 * (1 - test_mse / naive_mse):.1f}%")
    last = pad_sequences([series[-args.window:] / scale], maxlen=args.window, dtype="float32", padding="post")
    forecast = float(model.predict(last[:, :, None])[0]) * scale
    print(f"predicted sunspot number for {years[-1] + 1}: {forecast:.1f}")
    result = {"test_mse": test_mse, "naive_mse": naive_mse, "forecast": forecast, "n_train": n_train,
              "n_test": len(targets) - n_train, "train_years": (int(target_years[0]), int(target_years[n_train - 1])),
              "test_years": (int(target_years[n_train]), int(target_years[-1])), "seconds": seconds}
    if args.keras:
        keras_result = keras_mse(x_train, y_train, x_test, y_test, args.epochs, args.seed)
        print("Keras: not installed" if keras_result is None else f"Keras, same network and arrays: test MSE "
                                                                    f"{keras_result:.5f}")
        result["keras_mse"] = keras_result
    return result


if __name__ == "__main__":
    main()
