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

    A tagger's CRF is not in the graph: its Viterbi decoding runs after it, in PyTorch, with the
    transition scores saved beside the graph (crf.safetensors).
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
        self.task = task
        # the graph's own class / tag count (its last output axis is fixed), checked against labels.json on load
        self.num_outputs = self.session.get_outputs()[0].shape[-1]
        self.crf = crf

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor, chars: torch.Tensor | None = None,
                casing: torch.Tensor | None = None) -> torch.Tensor:
        """The graph's single output for this batch."""
        given = {"ids": ids, "lengths": lengths, "chars": chars, "casing": casing}
        feed = {name: given[name].cpu().numpy() for name in self.input_names}
        return torch.from_numpy(self.session.run(None, feed)[0]).to(ids.device)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """Best tag ids of each sentence, as `BiLSTMTagger.decode`."""
        return decode_emissions(emissions, mask, self.crf)
