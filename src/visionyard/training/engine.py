"""The train/eval loop skeleton: forward and loss inside autocast, one optimizer step per
accumulation window, and no host synchronisation per step.

With a GradScaler (fp16 only) the order is scale -> backward -> unscale -> clip -> step -> update.
bf16 and fp32 need no scaler. The loop knows nothing of files or logging: the runner passes a
callback that decides what to do after each optimizer step (log, checkpoint, stop).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from visionyard.training.metrics import ClassificationMetrics, EvalResult

AMP_DTYPES: dict[str, torch.dtype | None] = {
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
    "fp32": None,
}


def resolve_amp_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """Map the config's autocast name to a dtype (None = full fp32) for this device."""
    if name == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return None
    return AMP_DTYPES[name]


def logits_of(output: object) -> Tensor:
    """HF models return ModelOutput with .logits; plain modules return the tensor."""
    # Neither branch is typed Tensor (`output` is whatever the model returned): trust the model.
    return output.logits if hasattr(output, "logits") else output  # type: ignore[return-value]


@dataclass
class EpochStats:
    """The epoch's running train sums (device tensors, no host sync while training) and where
    the epoch stands. A mid-epoch checkpoint saves the sums, so a resumed epoch reports the
    same means as one that never stopped."""

    loss_sum: Tensor
    correct: Tensor
    samples: int = 0
    batches_done: int = 0
    stopped: bool = False

    @classmethod
    def zeros(cls, device: torch.device, *, batches_done: int = 0) -> EpochStats:
        return cls(
            loss_sum=torch.zeros((), device=device),
            correct=torch.zeros((), device=device, dtype=torch.long),
            batches_done=batches_done,
        )

    def summary(self, all_reduce_sum: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """Host values; syncs once per epoch. Under DDP pass the context's ``all_reduce_sum`` (every
        rank must call this then) so the means cover all ranks' shards, not rank 0's alone."""
        device = self.loss_sum.device
        totals = torch.stack(
            [
                self.loss_sum.to(torch.float64),
                self.correct.to(torch.float64),
                torch.tensor(float(self.samples), dtype=torch.float64, device=device),
            ]
        )
        if all_reduce_sum is not None:
            totals = all_reduce_sum(totals)
        loss_sum, correct, samples = totals.tolist()
        if samples == 0:
            return {}
        return {"loss": loss_sum / samples, "acc@1": correct / samples}


@dataclass
class StepInfo:
    """What the runner sees after each optimizer step."""

    step: int  # global optimizer steps completed
    epoch: int
    batches_done: int  # micro-batches of this epoch consumed (for mid-epoch resume)
    loss: Tensor  # detached mean loss of the last micro-batch, still on the device
    stats: EpochStats  # the epoch's running sums so far (a mid-epoch checkpoint saves them)


class BatchMixer:
    """MixUp / CutMix on device batches (torchvision v2), producing soft targets."""

    def __init__(self, *, num_classes: int, mixup_alpha: float, cutmix_alpha: float) -> None:
        from torchvision.transforms import v2

        choices = []
        if mixup_alpha > 0:
            choices.append(v2.MixUp(alpha=mixup_alpha, num_classes=num_classes))
        if cutmix_alpha > 0:
            choices.append(v2.CutMix(alpha=cutmix_alpha, num_classes=num_classes))
        if not choices:
            raise ValueError("BatchMixer needs mixup_alpha or cutmix_alpha > 0")
        self._mix: Callable[[Tensor, Tensor], tuple[Tensor, Tensor]] = (
            choices[0] if len(choices) == 1 else v2.RandomChoice(choices)
        )

    def __call__(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        return self._mix(images, labels)


class TrainLoop:
    def __init__(
        self,
        *,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LambdaLR,
        loss_fn: nn.Module,
        device: torch.device,
        amp_dtype: torch.dtype | None,
        scaler: torch.amp.GradScaler | None = None,
        grad_accum_steps: int = 1,
        max_grad_norm: float | None = None,
        mixer: BatchMixer | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
    ) -> None:
        if scaler is not None and amp_dtype is not torch.float16:
            raise ValueError("a GradScaler is only needed (and only correct) with fp16 autocast")
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.loss_fn = loss_fn
        self.device = device
        self.amp_dtype = amp_dtype
        self.scaler = scaler
        self.grad_accum_steps = grad_accum_steps
        self.max_grad_norm = max_grad_norm
        self.mixer = mixer
        self.stop_requested = stop_requested
        self.step = 0  # global optimizer steps; restored from checkpoints by the runner

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _no_sync(self, sync_now: bool) -> contextlib.AbstractContextManager[None]:
        # DDP all-reduces gradients on every backward; inside an accumulation window only the
        # last micro-batch needs it.
        if not sync_now and isinstance(self.model, DistributedDataParallel):
            return self.model.no_sync()
        return contextlib.nullcontext()

    def _optimizer_step(self) -> None:
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.max_grad_norm is not None:
            # foreach clipping returns a device tensor: no host sync.
            torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm, foreach=True)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1

    def train_epoch(
        self,
        batches: Iterable[tuple[Tensor, Tensor]],
        *,
        epoch: int,
        num_batches: int,
        start_batch: int = 0,
        carried: EpochStats | None = None,
        on_step: Callable[[StepInfo], None] | None = None,
    ) -> EpochStats:
        """Train over `batches` (already on the device, normalised), which start at micro-batch
        `start_batch` of an epoch of `num_batches`. Stops early, at an optimizer-step boundary,
        when `stop_requested()` turns true. `carried` holds the sums of the `start_batch`
        micro-batches trained before a resume; they are added to, so the epoch's means cover
        all of it."""
        if start_batch % self.grad_accum_steps and start_batch != num_batches:
            raise ValueError("resume position must sit on an accumulation-window boundary")
        self.model.train()
        stats = EpochStats.zeros(self.device, batches_done=start_batch)
        if carried is not None:
            stats.loss_sum = carried.loss_sum.to(self.device, stats.loss_sum.dtype).clone()
            stats.correct = carried.correct.to(self.device, stats.correct.dtype).clone()
            stats.samples = carried.samples
        accum = self.grad_accum_steps
        index = start_batch
        for images, labels in batches:
            window_start = (index // accum) * accum
            window_size = min(accum, num_batches - window_start)
            closes_window = index + 1 == window_start + window_size
            hard_labels = labels
            if self.mixer is not None:
                images, labels = self.mixer(images, labels)
            with self._no_sync(closes_window):
                with self.autocast():
                    logits = logits_of(self.model(pixel_values=images))
                    loss = self.loss_fn(logits, labels)
                scaled = loss / window_size
                if self.scaler is not None:
                    scaled = self.scaler.scale(scaled)
                scaled.backward()
            batch = hard_labels.shape[0]
            detached = loss.detach()
            stats.loss_sum += detached * batch
            stats.correct += (logits.detach().argmax(dim=-1) == hard_labels).sum()
            stats.samples += batch
            index += 1
            stats.batches_done = index
            if closes_window:
                self._optimizer_step()
                if on_step is not None:
                    on_step(StepInfo(self.step, epoch, index, detached, stats))
                if self.stop_requested():
                    stats.stopped = index < num_batches
                    break
        return stats

    @torch.no_grad()
    def evaluate(
        self, batches: Iterable[tuple[Tensor, Tensor]], metrics: ClassificationMetrics
    ) -> EvalResult:
        # The bare module, not the DDP wrapper: eval shards differ in length by one between ranks,
        # and a DDP forward may run a collective (buffer broadcast) that would then be unmatched.
        # The metrics sync once, in compute().
        model = self.model
        if isinstance(model, DistributedDataParallel):
            model = model.module
        model.eval()
        metrics.reset()
        for images, labels in batches:
            with self.autocast():
                logits = logits_of(model(pixel_values=images))
            # Unweighted, unsmoothed loss: an honest number comparable across configs.
            loss = F.cross_entropy(logits.float(), labels)
            metrics.update(logits, labels, loss)
        return metrics.compute()
