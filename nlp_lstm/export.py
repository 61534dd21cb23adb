"""A trained model directory -> an ONNX graph or an int8 model directory, checked against the original.

Both kinds of export are model directories that `load_model_dir`, the predictors, `nlp-lstm predict`
and `nlp-lstm evaluate` read like the original:

* onnx: model.onnx (dynamic batch and sequence axes; outputs the classifier's logits, or the tagger's
  emission scores and its tags) run by onnxruntime. A tagger's graph decodes: Viterbi with its CRF (CRF.paths,
  compiled by TorchScript into ONNX Loops), else each token's best tag. crf.safetensors keeps the CRF's scores
  too, for decoding other emission scores in PyTorch.
* int8: the original weights, with config.json saying to quantize the LSTM and Linear layers to int8
  (PyTorch dynamic quantization) when loading. Quantizing on load keeps the directory safetensors + JSON.
"""

from __future__ import annotations

import inspect
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import ConfigError, DataError, ExportError, ModelDirError
from .evaluation.model_card import write_model_card
from .io import atomic_save_tensors, write_json
from .model_dir import CRF_FILE, SavedModel, load_model_dir, local_model_dir, model_format, read_json
from .tasks import get_task

FORMATS = ("onnx", "int8")
OPSET = 17
TOLERANCE = 1e-4  # largest difference in logits / emission scores an ONNX export may show on its check batch


def export_model(model_dir: str | Path, fmt: str, output: str | Path | None = None) -> Path:
    """Write the `fmt` export (onnx or int8) of the model in `model_dir` to `output` (default: beside it,
    MODEL_DIR-FMT); returns the export's directory."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    source = local_model_dir(model_dir)
    found = model_format(source)
    if found != "pytorch":
        raise ModelDirError(f"{source} already holds an {found} export; export from the PyTorch model directory")
    saved = load_model_dir(source, "cpu", lstm="fused")  # the fused kernel traces and quantizes; same weights
    # a hub model's export goes to NAME-FMT in the working directory, not into the hub's cache
    name = source if source == Path(model_dir) else Path(str(model_dir).split("@")[0].split("/")[-1])
    out = Path(output) if output is not None else name.with_name(f"{name.name}-{fmt}")
    if out.resolve() == source.resolve():
        raise ConfigError(f"--output {out} is the model directory itself; choose another folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--output {out} already exists and is not empty; choose another folder "
                          f"(nothing was changed)")
    out.mkdir(parents=True, exist_ok=True)
    config = read_json(source / "config.json")
    config["model"] = {**config["model"], "lstm": "fused"}
    for name in ("tokenizer.json", "labels.json", "chars.json"):
        if (source / name).is_file():
            shutil.copyfile(source / name, out / name)
    if fmt == "int8":
        shutil.copyfile(source / "model.safetensors", out / "model.safetensors")
        export = {"from": str(source.resolve())}
    else:
        export = {"from": str(source.resolve()), **_write_onnx(saved, out)}
    write_json(out / "config.json", {**config, "format": fmt, "export": export})
    load_model_dir(out, "cpu")  # what was written loads
    write_model_card(out)
    return out


def export_and_compare(model_dir: str | Path, fmt: str, output: str | Path | None = None,
                       data: str | None = None) -> tuple[Path, dict[str, Any] | None]:
    """`export_model`, then (with labelled `data`) both models' accuracy on it and how often they agree, also
    recorded in the export's config.json; bad data fails before anything is written."""
    dataset = load_check_data(model_dir, data) if data else None
    out = export_model(model_dir, fmt, output)
    if dataset is None:
        return out, None
    check = compare(model_dir, out, dataset)
    config = read_json(out / "config.json")
    config["export"]["compared"] = check
    write_json(out / "config.json", config)
    write_model_card(out)
    return out, check


def _example_inputs(saved: SavedModel, lengths: list[int], seed: int) -> dict[str, torch.Tensor]:
    """A right-padded random batch of the model's inputs, by input name in the graph's order."""
    return get_task(saved.task).export_inputs(saved.model, lengths, seed)


def _write_onnx(saved: SavedModel, out: Path) -> dict[str, Any]:
    """model.onnx (and a CRF tagger's crf.safetensors) in `out`; returns what the export records in config.json."""
    model = saved.model
    task = get_task(saved.task)
    graph = task.export_graph(model).eval()
    example = _example_inputs(saved, [6, 4, 1], seed=0)
    names = list(example)
    axes: dict[str, dict[int, str]] = {"ids": {0: "batch", 1: "sequence"}, "lengths": {0: "batch"},
                                       "chars": {0: "batch", 1: "sequence", 2: "word"},
                                       "casing": {0: "batch", 1: "sequence"}}
    axes = {name: axes[name] for name in names}
    axes.update(task.export_outputs)
    # The TorchScript-based exporter: torch.export's exporter (dynamo=True) fixes the batch size that the
    # LSTM's initial states are built with, and onnxruntime then rejects other batch sizes.
    options = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    tmp = out / ".model.onnx.tmp"
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(graph, tuple(example.values()), str(tmp), input_names=names,
                              output_names=list(task.export_outputs), dynamic_axes=axes, opset_version=OPSET,
                              do_constant_folding=True, **options)
    except ImportError as err:
        raise ExportError(f"exporting to ONNX needs the onnx package ({err}); pip install 'nlp-lstm[onnx]'") from None
    tmp.replace(out / "model.onnx")
    if getattr(model, "crf", None) is not None:
        crf_state = {k: v.detach().cpu().contiguous() for k, v in model.crf.state_dict().items()}
        atomic_save_tensors(out / CRF_FILE, crf_state)
    difference = _check_onnx(saved, out)
    return {"opset": OPSET, "torch": torch.__version__, "check_max_abs_diff": difference}


def _check_onnx(saved: SavedModel, out: Path) -> float:
    """The largest difference between the PyTorch model's and model.onnx's outputs on a batch of another
    shape than the one exported with; an ExportError when it exceeds TOLERANCE or when the graph's tags differ."""
    from .models.onnx_runtime import OnnxModel

    session = OnnxModel(out / "model.onnx", saved.task)
    inputs = _example_inputs(saved, [9, 1, 5, 9, 2], seed=1)
    with torch.no_grad():
        expected = saved.model(**inputs)
    outputs = session.outputs(**inputs)
    got = outputs[session.output_names[0]]
    ids, lengths = inputs["ids"], inputs["lengths"]
    real = (torch.arange(ids.size(1))[None, :] < lengths[:, None]) if got.dim() == 3 else None
    diff = (got - expected).abs()
    difference = float((diff[real] if real is not None else diff).max())
    if not difference <= TOLERANCE:
        raise ExportError(f"{out / 'model.onnx'}: onnxruntime's outputs differ from PyTorch's by {difference:.2e} "
                          f"(more than {TOLERANCE:g}) on a check batch; the export is not usable")
    if "tags" in outputs:
        _check_tags(saved, out, got, outputs["tags"], real)
    return difference


def _check_tags(saved: SavedModel, out: Path, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> None:
    """An ExportError unless the graph's tags are exactly the PyTorch model's decoding of the graph's own emission
    scores (decoding PyTorch's, which differ in the last bits, could rightly flip a near tie)."""
    expected = saved.model.decode(emissions, mask)
    for i, (row, want) in enumerate(zip(tags.tolist(), expected)):
        if row[:len(want)] != want:
            raise ExportError(f"{out / 'model.onnx'}: the graph's tags differ from PyTorch's decoding in sentence {i} "
                              f"of the check batch ({row[:len(want)]} vs {want}); the export is not usable")


def load_check_data(model_dir: str | Path, data: str) -> Any:
    """The labelled data to compare an export on, read with the columns the model was trained with."""
    if not (Path(model_dir) / "config.json").is_file():
        raise ModelDirError(f"model directory not found (no config.json): {model_dir}")
    config = read_json(Path(model_dir) / "config.json")
    config = config if isinstance(config, dict) else {}
    dataset = get_task(config.get("task", "classification")).read(data, config.get("data", {}), role="test")
    if len(dataset) == 0:
        raise DataError(f"{data}: nothing to compare on")
    return dataset


def compare(original: str | Path, exported: str | Path, dataset: Any) -> dict[str, Any]:
    """Accuracy of the original and the exported model on a dataset from `load_check_data`, and how often
    their predictions agree."""
    task = get_task(read_json(Path(original) / "config.json").get("task", "classification"))
    gold, first, unit = task.predicted_units(original, dataset)
    _, second, _ = task.predicted_units(exported, dataset)
    gold_a, first_a, second_a = np.array(gold), np.array(first), np.array(second)
    return {"data": dataset.source, "n": len(gold), "unit": unit,
            "accuracy_original": float(np.mean(first_a == gold_a)),
            "accuracy_exported": float(np.mean(second_a == gold_a)),
            "agreement": float(np.mean(first_a == second_a))}
