"""Nothing in a model directory is unpickled: a crafted pickle payload in place of the weights (PyTorch or
ONNX) is refused with an error naming the file, and its code never runs."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from nlp_lstm import ModelDirError, Predictor
from nlp_lstm.export import export_model


class Payload:
    """Unpickling this writes a marker file: proof that the loader ran foreign code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


@pytest.mark.parametrize("weights", ["model.safetensors", "model.onnx"])
def test_a_pickle_payload_in_place_of_the_weights_is_refused_without_running(
        classifier_run: Path, tmp_path: Path, weights: str) -> None:
    source = classifier_run / "model"
    model = export_model(source, "onnx", tmp_path / "onnx") if weights == "model.onnx" else \
        Path(shutil.copytree(source, tmp_path / "model"))
    marker = tmp_path / "marker.txt"
    (model / weights).write_bytes(pickle.dumps(Payload(marker)))
    assert not marker.exists()
    with pytest.raises(ModelDirError, match=weights.replace(".", r"\.")):
        Predictor.load(model, "cpu")
    assert not marker.exists()  # the payload never ran


def test_a_pickle_payload_in_place_of_a_checkpoint_is_refused_without_running(classifier_run: Path,
                                                                             tmp_path: Path) -> None:
    from nlp_lstm.config import load_config
    from nlp_lstm.errors import TrainingError
    from nlp_lstm.runs import train

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(classifier_run / "config.toml", run / "config.toml")
    marker = tmp_path / "marker.txt"
    (run / "checkpoints" / "last.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(TrainingError, match=r"last\.safetensors: not a readable nlp-lstm checkpoint"):
        train(load_config(run / "config.toml"), resume=run, progress=False)
    assert not marker.exists()
