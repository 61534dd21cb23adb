"""Batches -> trained model: AdamW, gradient clipping, early stopping on a dev metric, checkpoints."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as save_safetensors
from torch import nn
from tqdm.auto import tqdm

from ..config import TrainingConfig
from ..data.batching import BucketBatchSampler
from ..errors import TrainingError
from ..io import atomic_write_bytes, write_json
from .device import autocast_dtype
from .memory import keep_freed_memory
from .tasks import ClassificationTask

LOG_EVERY = 20  # steps between progress-bar updates; the loss is read from the device only then


@dataclass
class TrainResult:
    """What `Trainer.fit` learned: one history row per epoch and where the best dev score was."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("-inf")
    steps: int = 0


def adamw(params: list[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused into one kernel where this torch has one for the device (CPU since torch 2.4): the default
    loop takes 5.1 ms per step for the zh-reviews classifier's 1.2M parameters on 2 CPU threads, fused 0.4 ms."""
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):  # no fused kernel for these parameters' device here
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


class Trainer:
    """Trains a model on length-bucketed batches and keeps the weights with the best dev metric."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainingConfig,
        device: torch.device,
        task: ClassificationTask | Any,
        checkpoint_dir: Path | None = None,
        progress: bool = True,
        verbose: bool = True,
    ) -> None:
        self.model = model.to(device)
        self.config = config
        self.device = device
        self.task = task
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.verbose = verbose  # one line per epoch on stdout
        # frozen parameters (fixed pretrained vectors) stay out of the optimizer, so weight decay leaves them alone
        self.optimizer = adamw([p for p in model.parameters() if p.requires_grad], config.learning_rate,
                               config.weight_decay)
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.autocast = autocast_dtype(config.precision, device)
        # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast == torch.float16 else None
        if device.type == "cpu":
            keep_freed_memory()

    def evaluate(self, split: Any) -> tuple[dict[str, Any], Any]:
        """Metrics and predictions of the current model on a split."""
        return self.task.evaluate(self.model, split, self.device)

    def fit(
        self,
        train: Any,
        dev: Any | None,
        on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
    ) -> TrainResult:
        """Train for up to `epochs`, stopping after `patience` epochs without a better dev metric
        (0: never early); the model ends with its best weights. Without dev data every epoch runs and
        the model keeps its last weights."""
        config = self.config
        sampler = BucketBatchSampler(self.task.lengths(train), config.batch_size, seed=config.seed)
        total_steps = config.epochs * len(sampler)
        if config.max_steps:
            total_steps = min(total_steps, config.max_steps)
        self.scheduler = None  # linear: from the learning rate down to 0 at the last planned step
        if config.lr_schedule == "linear":
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                               lambda step: max(0.0, 1 - step / total_steps))
        result = TrainResult()
        best_state = None
        bad_epochs = 0
        for epoch in range(1, config.epochs + 1):
            sampler.set_epoch(epoch)
            train_loss, tokens, seconds = self.train_epoch(train, sampler, epoch, result)
            dev_metrics = self.evaluate(dev)[0] if dev is not None else {}
            score = dev_metrics.get(config.metric, float(epoch))  # no dev: the latest epoch counts as best
            row = {
                "epoch": epoch,
                "steps": result.steps,
                "train_loss": train_loss,
                **{f"dev_{name}": dev_metrics[name] for name in self.task.summary_metrics if name in dev_metrics},
                "train_tokens_per_second": tokens / seconds if seconds > 0 else 0.0,
                "train_seconds": seconds,
                "learning_rate": self.optimizer.param_groups[0]["lr"],
            }
            result.history.append(row)
            improved = score > result.best_score
            if improved:
                result.best_score, result.best_epoch, bad_epochs = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                bad_epochs += 1
                if config.lr_schedule == "plateau" and dev is not None:
                    for group in self.optimizer.param_groups:
                        group["lr"] *= config.lr_decay
            self._checkpoint(result, best=improved)
            if self.verbose:
                dev_text = f"  dev {config.metric} {score:.4f}{' (best)' if improved else ''}" if dev_metrics else ""
                tqdm.write(f"epoch {epoch}: train loss {train_loss:.4f}{dev_text}  "
                           f"{row['train_tokens_per_second']:,.0f} tokens/s  {seconds:.1f}s")
            if on_epoch_end is not None:
                on_epoch_end(row)
            if (config.patience and bad_epochs >= config.patience) or (
                config.max_steps and result.steps >= config.max_steps
            ):
                break
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return result

    def train_epoch(
        self, train: Any, sampler: BucketBatchSampler, epoch: int, result: TrainResult
    ) -> tuple[float, int, float]:
        """One pass over the training batches; returns mean loss, real tokens seen and seconds."""
        self.model.train()
        loss_sum = torch.zeros((), device=self.device)
        first_bad = torch.full((), -1, dtype=torch.long, device=self.device)  # first step with a NaN/inf loss
        steps = tokens = 0
        bar = tqdm(total=len(sampler), desc=f"epoch {epoch}", unit="batch", disable=None if self.progress else True,
                   leave=False, dynamic_ncols=True)
        start = time.perf_counter()
        for indices in sampler:
            batch = self.task.collate(train, indices)
            tokens += int(batch.lengths.sum())
            with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
                loss = self.task.loss(self.model, batch.to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)  # clip the true gradients
            else:
                loss.backward()
            if self.config.clip_grad_norm > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_grad_norm)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)  # skipped when the scaled gradients overflowed
                self.scaler.update()
            else:
                self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            loss_sum += loss.detach()
            steps += 1
            result.steps += 1
            # recorded on the device, read at the logging interval: no host-device sync on every step
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), result.steps, first_bad)
            if steps % LOG_EVERY == 0:
                elapsed = time.perf_counter() - start
                self._stop_if_diverged(first_bad, epoch)
                bar.set_postfix(loss=f"{loss_sum.item() / steps:.4f}", tokens_per_s=f"{tokens / elapsed:,.0f}")
                bar.update(LOG_EVERY)
            if self.config.max_steps and result.steps >= self.config.max_steps:
                break
        bar.close()
        self._stop_if_diverged(first_bad, epoch)
        seconds = time.perf_counter() - start
        return loss_sum.item() / max(steps, 1), tokens, seconds

    def _stop_if_diverged(self, first_bad: torch.Tensor, epoch: int) -> None:
        """A TrainingError naming the first step whose loss was NaN or infinite, if there was one. Checkpoints
        are written at the end of an epoch, so checkpoints/last still holds the last good one."""
        step = int(first_bad.item())
        if step < 0:
            return
        kept = "checkpoints/last holds the weights after epoch " + str(epoch - 1) if epoch > 1 else \
            "no checkpoint was written (it was the first epoch)"
        config = self.config
        raise TrainingError(
            f"the training loss became NaN or infinite at step {step} (epoch {epoch}); training stopped and "
            f"the diverged weights were not saved; {kept}. Try a lower training.learning_rate (now "
            f"{config.learning_rate:g})" + (", training.clip_grad_norm = 1.0" if not config.clip_grad_norm else "")
            + (', or training.precision = "fp32"' if config.precision != "fp32" else "") + ".")

    def _checkpoint(self, result: TrainResult, best: bool) -> None:
        """Write the last checkpoint (weights, optimizer, progress) and, when `best`, the best weights."""
        if self.checkpoint_dir is None:
            return
        weights = save_safetensors({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()})
        last = self.checkpoint_dir / "last"
        atomic_write_bytes(last / "model.safetensors", weights)
        buffer = io.BytesIO()
        torch.save(self.optimizer.state_dict(), buffer)  # tensors and numbers only: loads with weights_only=True
        atomic_write_bytes(last / "optimizer.pt", buffer.getvalue())
        write_json(last / "state.json", {"epoch": result.history[-1]["epoch"], "steps": result.steps,
                                         "best_epoch": result.best_epoch, "best_score": result.best_score})
        if best:
            atomic_write_bytes(self.checkpoint_dir / "best" / "model.safetensors", weights)
