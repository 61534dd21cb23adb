"""An exported model.onnx run by onnxruntime, called like the PyTorch model it was exported from."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import ModelDirError
from .crf import CRF
from .tagger import decode_emissions


class OnnxModel(nn.Module):
    """model.onnx on onnxruntime's CPU provider, behind BiLSTMClassifier's / BiLSTMTagger's call:
    (ids, lengths[, chars, casing]) -> logits or emission scores, as a tensor on the inputs' device.

    A tagger's graph also outputs its tags (Viterbi with a CRF): `decode` of the emissions the last call
    returned reads them, so a batch runs the graph once. Other emissions, and graphs without a `tags` output
    (exported by earlier versions), are decoded after the graph in PyTorch, with the CRF saved beside it
    (crf.safetensors).
    """

    def __init__(self, path: str | Path, task: str, crf: CRF | None = None,
                 threads: int | None = None) -> None:
        super().__init__()
        try:
            import onnxruntime
        except ImportError:
            raise ModelDirError(f"{path}: running an ONNX export needs onnxruntime; "
                                f"pip install 'nlp-lstm[onnx]' (or pip install onnxruntime)") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()  # as many threads as PyTorch uses
        try:
            self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for unreadable graphs
            raise ModelDirError(f"{path}: not a loadable ONNX model ({type(err).__name__}: {err})") from None
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]
        self.task = task
        # the graph's own class / tag count (its last output axis is fixed), checked against labels.json on load
        self.num_outputs = self.session.get_outputs()[0].shape[-1]
        self.crf = crf
        self._last_tags: tuple[torch.Tensor, torch.Tensor] | None = None  # (emissions, the graph's tags)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
                casing: torch.Tensor | None = None) -> torch.Tensor:
        """The graph's first output (logits or emission scores) for this batch."""
        outputs = self.outputs(ids, lengths, chars, casing)
        first = outputs[self.output_names[0]]
        if "tags" in outputs:
            self._last_tags = (first, outputs["tags"])
        return first

    def outputs(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
                casing: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Every output of the graph for this batch, by name, on the inputs' device."""
        given = {"ids": ids, "lengths": lengths, "chars": chars, "casing": casing}
        feed = {name: given[name].cpu().numpy() for name in self.input_names}
        values = self.session.run(self.output_names, feed)
        return {name: torch.from_numpy(value).to(ids.device) for name, value in zip(self.output_names, values)}

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag ids of each sentence, as `BiLSTMTagger.decode`: the graph's own tags when `emissions` is what
        the last call returned, else decoded here."""
        last = self._last_tags
        if last is not None and emissions is last[0]:
            return [row[:length] for row, length in zip(last[1].tolist(), mask.sum(dim=1).tolist())]
        return decode_emissions(emissions, mask, self.crf)
