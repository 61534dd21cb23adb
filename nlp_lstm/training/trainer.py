"""Batches -> trained model: AdamW, gradient clipping, early stopping on a dev metric, checkpoints."""

from __future__ import annotations

import itertools
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from ..config import TrainingConfig
from ..data.batching import BucketBatchSampler
from ..data.ragged import max_id
from ..device import autocast_dtype
from ..errors import TrainingError, TrainingInterrupted
from ..io import atomic_save_tensors
from .checkpoint import read_checkpoint, restore_rng, write_checkpoint
from .distributed import total
from .memory import keep_freed_memory, release_freed_memory

LOG_EVERY = 20  # steps between progress-bar updates; the loss is read from the device only then


@dataclass
class TrainResult:
    """What `Trainer.fit` learned: one history row per epoch and where the best dev score was."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = float("-inf")
    steps: int = 0
    bad_epochs: int = 0  # epochs since the best one
    stopped: bool = False  # early stopping or max_steps ended the run
    averaged_epochs: list[int] = field(default_factory=list)  # the epochs whose mean weights the model kept

    @property
    def kept_epochs(self) -> int:
        """How many epochs the kept weights took: the last averaged epoch, else the best one."""
        return self.averaged_epochs[-1] if self.averaged_epochs else self.best_epoch

    def kept(self) -> str:
        """Which weights the model kept, for messages: "epoch 4" (the best on dev) or "the mean of epochs 5-7"."""
        if self.averaged_epochs:
            return f"the mean of epochs {self.averaged_epochs[0]}-{self.averaged_epochs[-1]}"
        return f"epoch {self.best_epoch}"

    def refit_note(self, examples: int) -> str:
        """The line that announces training.refit's second run."""
        return (f"refit: the run kept {self.kept()} of {len(self.history)}; training a new model on train + dev "
                f"({examples:,} examples) for {self.kept_epochs} epochs")


@dataclass
class EpochProgress:
    """How far into an epoch training is: batches done, their summed loss (on the device), real tokens, seconds."""

    batch: int = 0
    loss_sum: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    tokens: int = 0
    seconds: float = 0.0


def adamw(params: list[nn.Parameter], lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW, fused into one kernel where this torch has one for the device (CPU since torch 2.4): the default
    implementation loops over the parameters in Python, which costs more than the update itself for small models."""
    try:
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):  # no fused kernel for these parameters' device here
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def clip_gradients(parameters: list[nn.Parameter], max_norm: float) -> None:
    """nn.utils.clip_grad_norm_ without its multiplication by 1 when the norm is within `max_norm`: the same
    gradients, bit for bit, and most steps skip a pass over every gradient (the dense embedding gradient is the
    largest). Only on the CPU, where reading the norm costs no device sync, and with torch >= 2.6."""
    grads = [p.grad for p in parameters if p.grad is not None]
    get_norm, scale = getattr(nn.utils, "get_total_norm", None), getattr(nn.utils, "clip_grads_with_norm_", None)
    if not grads or grads[0].device.type != "cpu" or get_norm is None or scale is None:
        nn.utils.clip_grad_norm_(parameters, max_norm)
        return
    norm = get_norm(grads)
    if not bool(max_norm / (norm + 1e-6) >= 1.0):  # clip_grad_norm_'s coefficient, which it clamps at 1
        scale(parameters, max_norm, norm)


def averaged_epochs(epochs_trained: int, average_last: int) -> int:
    """How many of the last epochs to average: `average_last`, but no more than half of those trained (rounded
    up), since early epochs are far from where training settles."""
    return min(average_last, (epochs_trained + 1) // 2)


def mean_state(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point weights; other tensors (masks, counters) from the last state."""
    return {name: torch.stack([state[name] for state in states]).mean(dim=0) if value.is_floating_point()
            else value for name, value in states[-1].items()}


class Trainer:
    """Trains a model on length-bucketed batches and keeps the weights with the best dev metric, or the mean of
    the last epochs' weights (training.average_last)."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainingConfig,
        device: torch.device,
        task: Any,  # a task of nlp_lstm.tasks (or SequenceRegressor's): batching, loss, dev scoring
        checkpoint_dir: Path | None = None,
        progress: bool = True,
        verbose: bool = True,
    ) -> None:
        self.model = model.to(device)
        # under torchrun: DistributedDataParallel averages the gradients of the ranks' batch pieces in backward
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank, self.world_size = (dist.get_rank(), dist.get_world_size()) if self.distributed else (0, 1)
        self.train_model: nn.Module = self.model
        if self.distributed:
            self.train_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None)
        self.config = config
        self.device = device
        self.task = task
        self.checkpoint_dir = checkpoint_dir
        self.progress = progress
        self.on_log: Callable[[dict[str, Any]], None] | None = None  # set by fit
        self.verbose = verbose  # one line per epoch on stdout
        # frozen parameters (fixed pretrained vectors) stay out of the optimizer, so weight decay leaves them alone
        self.optimizer = adamw([p for p in model.parameters() if p.requires_grad], config.learning_rate,
                               config.weight_decay)
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
        self.autocast = autocast_dtype(config.precision, device)
        # fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none
        self.scaler = torch.amp.GradScaler("cuda") if self.autocast == torch.float16 else None
        # the word embedding and the view of its leading rows that the optimizer holds instead (see fit)
        self.embedding_rows: tuple[nn.Parameter, nn.Parameter] | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.recent_states: list[dict[str, torch.Tensor]] = []  # the last `average_last` epochs' weights
        self._signal: int | None = None  # set by SIGINT/SIGTERM during fit
        self._last_checkpoint = ""  # where the last checkpoint was written, for messages
        if device.type == "cpu" and config.keep_freed_memory:
            keep_freed_memory()

    def evaluate(self, split: Any) -> tuple[dict[str, Any], Any]:
        """Metrics and predictions of the current model on a split."""
        scored = self.task.evaluate(self.model, split, self.device)
        release_freed_memory()  # scoring's batches are larger than training's; what follows needs none of them
        return scored

    def fit(
        self,
        train: Any,
        dev: Any | None,
        on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
        resume: bool = False,
        on_log: Callable[[dict[str, Any]], None] | None = None,
    ) -> TrainResult:
        """Train for up to `epochs`, stopping after `patience` epochs without a better dev metric
        (0: never early); the model ends with the mean weights of its last `average_last` epochs (at most half
        of those trained) where dev scores them at least as well as the best epoch's, else with its best
        weights (without dev data: its last, or their mean). `resume` continues from
        checkpoints/last.safetensors exactly where it was written: the same batches, random numbers and optimizer
        state as an unbroken run. `on_log` gets a row (step, epoch, loss of the interval, learning rate,
        tokens/s) every LOG_EVERY steps."""
        config = self.config
        self.on_log = on_log
        self._optimize_trained_rows(train)
        sampler = BucketBatchSampler(self.task.lengths(train), config.batch_size, seed=config.seed, rank=self.rank,
                                     world_size=self.world_size, batch_tokens=config.batch_tokens)
        total_steps = config.epochs * len(sampler)
        if config.max_steps:
            total_steps = min(total_steps, config.max_steps)
        self.scheduler = None  # linear: from the learning rate down to 0 at the last planned step
        if config.lr_schedule == "linear":
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer,
                                                               lambda step: max(0.0, 1 - step / total_steps))
        result = TrainResult()
        self.best_state, self.recent_states = None, []
        start_epoch, partial = 1, None
        if resume:
            start_epoch, partial = self._restore(result)
        release_freed_memory()  # what preparing the data freed (word vectors, texts) leaves the process
        with self._signals_checkpoint():
            for epoch in range(start_epoch, config.epochs + 1):
                sampler.set_epoch(epoch)
                train_loss, tokens, seconds = self.train_epoch(train, sampler, epoch, result, partial)
                partial = None
                release_freed_memory()  # the training steps' free heap, before scoring allocates its own
                dev_metrics = self.evaluate(dev)[0] if dev is not None else {}
                score = dev_metrics.get(config.metric, float(epoch))  # no dev: the latest epoch counts as best
                row = {
                    "epoch": epoch,
                    "steps": result.steps,
                    "train_loss": train_loss,
                    **{f"dev_{name}": dev_metrics[name] for name in self.task.summary_metrics
                       if name in dev_metrics},
                    "train_tokens_per_second": tokens / seconds if seconds > 0 else 0.0,
                    "train_seconds": seconds,
                    "learning_rate": self.optimizer.param_groups[0]["lr"],
                }
                result.history.append(row)
                improved = score > result.best_score
                if improved:
                    result.best_score, result.best_epoch, result.bad_epochs = score, epoch, 0
                    self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                else:
                    result.bad_epochs += 1
                    if config.lr_schedule == "plateau" and dev is not None:
                        for group in self.optimizer.param_groups:
                            group["lr"] *= config.lr_decay
                if config.average_last > 1:
                    self.recent_states = [*self.recent_states, {k: v.detach().clone() for k, v in
                                                                self.model.state_dict().items()}][-config.average_last:]
                result.stopped = bool((config.patience and result.bad_epochs >= config.patience) or (
                    config.max_steps and result.steps >= config.max_steps))
                self._checkpoint(result, epoch, None, best=improved)
                if self.verbose:
                    dev_text = (f"  dev {config.metric} {score:.4f}{' (best)' if improved else ''}"
                                if dev_metrics else "")
                    tqdm.write(f"epoch {epoch}: train loss {train_loss:.4f}{dev_text}  "
                               f"{row['train_tokens_per_second']:,.0f} tokens/s  {seconds:.1f}s")
                if on_epoch_end is not None:
                    on_epoch_end(row)
                if result.stopped:
                    break
        averaged = averaged_epochs(len(result.history), config.average_last)
        if averaged > 1:
            self.model.load_state_dict(mean_state(self.recent_states[-averaged:]))
            result.averaged_epochs = [row["epoch"] for row in result.history[-averaged:]]
            mean = result.kept()
            # the mean is kept where dev cannot tell or likes it at least as well as the best epoch: averaging
            # weights that still move a lot (few epochs, little data) can land far from either
            if dev is not None:
                score = self.evaluate(dev)[0][config.metric]
                if score < result.best_score:
                    result.averaged_epochs = []
                if self.verbose:
                    tqdm.write(f"kept {result.kept()} (dev {config.metric}: {mean} {score:.4f}, epoch "
                               f"{result.best_epoch} {result.best_score:.4f}; training.average_last)")
        if not result.averaged_epochs and self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        self.recent_states = []
        release_freed_memory()
        return result

    def train_epoch(
        self, train: Any, sampler: BucketBatchSampler, epoch: int, result: TrainResult,
        progress: EpochProgress | None = None,
    ) -> tuple[float, int, float]:
        """One pass over the training batches (from `progress.batch` on, when resuming one); returns mean loss,
        real tokens seen and seconds."""
        self.model.train()
        progress = progress or EpochProgress(loss_sum=torch.zeros((), device=self.device))
        progress.loss_sum = progress.loss_sum.to(self.device)
        first_bad = torch.full((), -1, dtype=torch.long, device=self.device)  # first step with a NaN/inf loss
        num_batches = len(sampler)
        batches = itertools.islice(sampler, progress.batch, None)  # made one at a time: none kept in a list
        bar = tqdm(total=num_batches, initial=progress.batch, desc=f"epoch {epoch}", unit="batch",
                   disable=None if self.progress else True, leave=False, dynamic_ncols=True)
        start = time.perf_counter() - progress.seconds
        logged = (progress.batch, float(progress.loss_sum))  # batch count and loss sum at the last log row
        for indices in batches:
            if self._signal is not None:
                progress.seconds = time.perf_counter() - start
                self._interrupt(first_bad, result, epoch, progress, num_batches)
            batch = self.task.collate(train, indices)
            progress.tokens += int(batch.lengths.sum())
            with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
                loss = self.task.loss(self.train_model, batch.to(self.device))
            self.optimizer.zero_grad(set_to_none=True)
            if self.embedding_rows is not None:
                self.embedding_rows[0].grad = None
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            if self.embedding_rows is not None:
                weight, rows = self.embedding_rows
                rows.grad = weight.grad[: rows.size(0)] if weight.grad is not None else None  # a view, not a copy
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)  # clip the true gradients
            if self.config.clip_grad_norm > 0:
                clip_gradients(list(self.model.parameters()), self.config.clip_grad_norm)
            if self.scaler is not None:
                self.scaler.step(self.optimizer)  # skipped when the scaled gradients overflowed
                self.scaler.update()
            else:
                self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            progress.loss_sum += loss.detach()
            progress.batch += 1
            result.steps += 1
            # recorded on the device, read at the logging interval: no host-device sync on every step
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(loss.detach()), result.steps, first_bad)
            if progress.batch % LOG_EVERY == 0:
                elapsed = time.perf_counter() - start
                self._stop_if_diverged(first_bad, epoch)
                loss_sum = progress.loss_sum.item()
                bar.set_postfix(loss=f"{loss_sum / progress.batch:.4f}",
                                tokens_per_s=f"{progress.tokens / elapsed:,.0f}")
                bar.update(LOG_EVERY)
                if self.on_log is not None:
                    self.on_log({"step": result.steps, "epoch": epoch,
                                 "loss": (loss_sum - logged[1]) / (progress.batch - logged[0]),
                                 "learning_rate": self.optimizer.param_groups[0]["lr"],
                                 "tokens_per_second": progress.tokens / elapsed})
                    logged = (progress.batch, loss_sum)
            if self.config.max_steps and result.steps >= self.config.max_steps:
                break
            every = self.config.checkpoint_every
            if every and result.steps % every == 0 and progress.batch < num_batches:
                self._stop_if_diverged(first_bad, epoch)  # diverged weights are never saved
                progress.seconds = time.perf_counter() - start
                self._checkpoint(result, epoch, progress)
        bar.close()
        self._stop_if_diverged(first_bad, epoch)
        seconds = time.perf_counter() - start
        # every rank's share: the mean loss over all ranks' pieces, and all of their tokens
        loss_sum = total(progress.loss_sum.item(), self.device) / self.world_size
        return loss_sum / max(progress.batch, 1), int(total(progress.tokens, self.device)), seconds

    def _optimize_trained_rows(self, train: Any) -> None:
        """Give the optimizer a view of the word embedding's rows up to the largest id in the training data in
        place of the whole table, when there are rows after it (pretrained words added to the vocabulary that no
        training text has) and no weight decay. Those rows never get a gradient, and AdamW without weight decay
        leaves a parameter whose gradients were all 0 exactly as it is, so the model trains bit for bit as with the
        whole table while each step skips updating them and Adam keeps no moments for them
        (docs/performance.md#pretrained-words-added-to-a-taggers-vocabulary)."""
        embedding = getattr(self.model, "embedding", None)
        ids = getattr(train, "ids", None)
        if (self.embedding_rows is not None or not isinstance(embedding, nn.Embedding) or ids is None
                or not embedding.weight.requires_grad or self.config.weight_decay != 0):
            return
        weight = embedding.weight
        used = max_id(ids) + 1
        if used >= weight.size(0):
            return
        rows = nn.Parameter(weight.detach()[:used])  # shares the table's storage: the optimizer updates it in place
        self.optimizer = adamw([rows if p is weight else p for p in self.model.parameters() if p.requires_grad],
                               self.config.learning_rate, self.config.weight_decay)
        self.embedding_rows = (weight, rows)

    def _stop_if_diverged(self, first_bad: torch.Tensor, epoch: int) -> None:
        """A TrainingError naming the first step whose loss was NaN or infinite, if there was one. Checkpoints
        are written at the end of an epoch, so checkpoints/last still holds the last good one."""
        step = int(first_bad.item())
        if step < 0:
            return
        kept = (f"checkpoints/last.safetensors holds the last good state ({self._last_checkpoint})"
                if self._last_checkpoint else "no checkpoint was written yet")
        config = self.config
        raise TrainingError(
            f"the training loss became NaN or infinite at step {step} (epoch {epoch}); training stopped and "
            f"the diverged weights were not saved; {kept}. Try a lower training.learning_rate (now "
            f"{config.learning_rate:g})" + (", training.clip_grad_norm = 1.0" if not config.clip_grad_norm else "")
            + (', or training.precision = "fp32"' if self.autocast is not None else "") + ".")

    def _checkpoint(self, result: TrainResult, epoch: int, progress: EpochProgress | None,
                    best: bool = False) -> None:
        """Write checkpoints/last.safetensors: at the end of `epoch` (progress None) or inside it; and, when
        `best`, checkpoints/best.safetensors with the best weights alone."""
        if self.checkpoint_dir is None:
            return
        state = {"epoch": epoch, "batch": progress.batch if progress else None, "epoch_done": progress is None,
                 "tokens": progress.tokens if progress else 0, "seconds": progress.seconds if progress else 0.0,
                 "steps": result.steps, "history": result.history, "best_epoch": result.best_epoch,
                 "best_score": result.best_score, "bad_epochs": result.bad_epochs, "stopped": result.stopped}
        loss_sum = progress.loss_sum if progress else torch.zeros(())
        if best and self.best_state is not None:
            atomic_save_tensors(self.checkpoint_dir / "best.safetensors", self.best_state)
        write_checkpoint(self.checkpoint_dir / "last.safetensors", self.model, self.best_state, self.optimizer,
                         self.scheduler, self.scaler, self._generators(), state, loss_sum, self.recent_states)
        where = f"in epoch {epoch}" if progress else f"end of epoch {epoch}"
        self._last_checkpoint = f"step {result.steps}, {where}"

    def _generators(self) -> dict[str, torch.Generator]:
        """The task's own random generators (the <unk> replacement's), saved with the global ones."""
        replacement = getattr(self.task, "unk_replacement", None)
        return {"unk_replacement": replacement.generator} if replacement is not None else {}

    def _restore(self, result: TrainResult) -> tuple[int, EpochProgress | None]:
        """Load checkpoints/last.safetensors into the model, optimizer, scheduler, scaler, RNGs and `result`;
        returns the epoch to go on with and, inside an epoch, where in it."""
        if self.checkpoint_dir is None:
            raise TrainingError("resuming needs a checkpoint directory")
        path = self.checkpoint_dir / "last.safetensors"
        saved = read_checkpoint(path)
        try:
            self.model.load_state_dict(saved.model)
            self.optimizer.load_state_dict(saved.optimizer)
            for group in self.optimizer.param_groups:  # load_state_dict compares the parameter counts, not shapes
                for p in group["params"]:
                    moment = self.optimizer.state.get(p, {}).get("exp_avg")
                    if moment is not None and moment.shape != p.shape:
                        raise ValueError(f"optimizer state of shape {tuple(moment.shape)} for a parameter of "
                                         f"shape {tuple(p.shape)}")
        except (RuntimeError, ValueError, KeyError) as err:
            raise TrainingError(f"{path}: does not fit this model and config ({str(err).splitlines()[0]}); "
                                f"it was written by another run") from None
        if self.scheduler is not None and saved.scheduler is not None:
            self.scheduler.load_state_dict(saved.scheduler)
        if self.scaler is not None and saved.scaler is not None:
            self.scaler.load_state_dict(saved.scaler)
        restore_rng(saved.rng, self._generators())
        self.best_state = {k: v.to(self.device) for k, v in saved.best.items()} if saved.best else None
        self.recent_states = [{k: v.to(self.device) for k, v in state.items()} for state in saved.recent]
        p = saved.progress
        result.history, result.steps = p["history"], p["steps"]
        result.best_epoch, result.best_score, result.bad_epochs = p["best_epoch"], p["best_score"], p["bad_epochs"]
        result.stopped = p["stopped"]
        if result.stopped:
            return self.config.epochs + 1, None
        if p["epoch_done"]:
            return p["epoch"] + 1, None
        return p["epoch"], EpochProgress(p["batch"], p["loss_sum"], p["tokens"], p["seconds"])

    @contextmanager
    def _signals_checkpoint(self) -> Iterator[None]:
        """While training with a checkpoint directory, SIGINT and SIGTERM stop it at the next step boundary with
        a checkpoint written (a second signal acts as usual)."""
        self._signal = None
        # under torchrun the launcher handles signals: the ranks could not agree on a step to stop at
        if self.checkpoint_dir is None or self.distributed or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum: int, frame: Any) -> None:
            self._signal = signum
            signal.signal(signum, previous[signum])

        for signum in previous:
            signal.signal(signum, handler)
        try:
            yield
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)
        if self._signal is not None:  # it came after the last step: there is no step to stop at, so act as usual
            signal.raise_signal(self._signal)

    def _interrupt(self, first_bad: torch.Tensor, result: TrainResult, epoch: int, progress: EpochProgress,
                   num_batches: int) -> None:
        """Save where training stands and raise TrainingInterrupted."""
        self._stop_if_diverged(first_bad, epoch)
        self._checkpoint(result, epoch, progress)
        name = signal.Signals(self._signal).name
        raise TrainingInterrupted(
            f"stopped by {name} after step {result.steps} (epoch {epoch}, batch {progress.batch} of {num_batches}); "
            f"checkpoint written to {self.checkpoint_dir / 'last.safetensors'}", self._signal, self.checkpoint_dir)
