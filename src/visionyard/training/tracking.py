"""Run tracking: :class:`Tracker` writes TensorBoard summaries and, through ``eventlog.py``, the
``events.jsonl`` event stream (whose contract is there), on rank 0 only.

TensorBoard (``<run>/tb``): ``train/step_loss`` and ``train/lr`` at the optimizer step;
``<split>/<metric>`` at the global step of the epoch end; ``<split>/confusion_matrix`` (image) and
``<split>/per_class`` (markdown table); ``metrics/definitions``, the metric registry's table (which
way is better, what each metric means). The writer is flushed at epoch ends, not per step.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from visionyard.training.confusion_image import render_confusion_matrix
from visionyard.training.eventlog import LOG_LEVELS, RUN_STATES, EventLog
from visionyard.training.metric_registry import describe

if TYPE_CHECKING:  # only for annotations: keeps this module free of the torchmetrics import
    from visionyard.training.metrics import EvalResult

__all__ = ["Tracker", "per_class_markdown"]


def _process_rank() -> int:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    # torchrun sets RANK before the process group exists; trust it so a tracker built early
    # on a non-zero rank still stays silent.
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


_EVENT_FILE_SECOND = re.compile(r"^events\.out\.tfevents\.(\d+)\.")
# Waiting longer than this means the clock went back (another host resumed the run): ordering
# can't be fixed by waiting then, and a resumed run must not hang on it.
_MAX_ORDERING_WAIT_S = 2.0


def _wait_until_new_event_files_sort_last(tb_dir: Path) -> None:
    """Returns once a new event file's name will sort after every event file already in ``tb_dir``.

    TensorBoard reads a run's event files in name order, and a name is
    ``events.out.tfevents.<second>.<host>.<pid>.<counter>``: a run resumed within the second its
    earlier start wrote, in the same process, is ordered by a counter compared as text ("10" < "9"),
    so the resumed half could be read first and TensorBoard would drop the other half's steps as
    orphaned. Starting the new file in a later second orders it by time alone.
    """
    seconds = [
        int(m.group(1))
        for p in (tb_dir.iterdir() if tb_dir.is_dir() else ())
        if (m := _EVENT_FILE_SECOND.match(p.name))
    ]
    if not seconds:
        return
    wait = max(seconds) + 1 - time.time()
    if 0 < wait <= _MAX_ORDERING_WAIT_S:
        time.sleep(wait)


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def per_class_markdown(result: EvalResult) -> str:
    """The per-class table of ``result`` as a GitHub-flavoured markdown table."""
    lines = [
        "| class | precision | recall | f1 | support |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in result.per_class:
        lines.append(
            f"| {_md_cell(str(row['class']))} | {row['precision']:.4f} | {row['recall']:.4f} "
            f"| {row['f1']:.4f} | {row['support']} |"
        )
    return "\n".join(lines)


class Tracker:
    """Rank-0 tracking: TensorBoard scalars/images/text + events.jsonl.

    On other ranks every method is a no-op (``state``/``log`` still validate their arguments).

    ``enabled=False`` (or a non-zero rank) creates no files and no directories at all.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        tb_dir: Path | None = None,
        enabled: bool = True,
        class_names: Sequence[str] = (),
    ) -> None:
        self.run_dir = Path(run_dir)
        self.tb_dir = Path(tb_dir) if tb_dir is not None else self.run_dir / "tb"
        self.events_path = self.run_dir / "events.jsonl"
        self.class_names = [str(c) for c in class_names]
        self.active = bool(enabled) and _process_rank() == 0
        self._writer: Any = None
        self._events: EventLog | None = None
        if self.active:
            # Imported lazily: TensorBoard pulls in protobuf, which non-zero ranks never need.
            from torch.utils.tensorboard import SummaryWriter

            self._events = EventLog(self.events_path)
            _wait_until_new_event_files_sort_last(self.tb_dir)
            self._writer = SummaryWriter(log_dir=str(self.tb_dir), max_queue=1000)
            # What each chart means and which way is better, next to the charts themselves.
            self._writer.add_text("metrics/definitions", describe(), 0)

    # -- event helpers ---------------------------------------------------------------------------

    def _emit(self, type: str, **fields: Any) -> None:
        if self._events is not None:
            self._events.emit(type, **fields)

    def _rel(self, path: Path) -> str:
        path = Path(path)
        try:
            return path.resolve().relative_to(self.run_dir.resolve()).as_posix()
        except ValueError:
            return str(path)

    # -- public API ------------------------------------------------------------------------------

    def train_step(self, step: int, epoch: int, loss: float, lr: float) -> None:
        if not self.active:
            return
        loss, lr = float(loss), float(lr)
        self._writer.add_scalar("train/step_loss", loss, step)
        self._writer.add_scalar("train/lr", lr, step)
        self._emit("train_step", step=step, epoch=epoch, loss=loss, lr=lr)

    def epoch_metrics(self, split: str, epoch: int, step: int, values: Mapping[str, float]) -> None:
        """Scalars ``<split>/<name>`` at global ``step`` plus a ``metrics`` event; flushes TB."""
        if not self.active:
            return
        clean = {str(k): float(v) for k, v in values.items()}
        for name, value in clean.items():
            self._writer.add_scalar(f"{split}/{name}", value, step)
        self._emit("metrics", split=split, epoch=epoch, step=step, values=clean)
        self._writer.flush()

    def eval_details(self, split: str, step: int, result: EvalResult) -> None:
        """Confusion-matrix image and per-class markdown table for one evaluation."""
        if not self.active:
            return
        n = len(result.confusion)
        names = [str(r["class"]) for r in result.per_class]
        if len(names) != n:
            names = self.class_names if len(self.class_names) == n else [str(i) for i in range(n)]
        image = render_confusion_matrix(result.confusion, names)
        self._writer.add_image(
            f"{split}/confusion_matrix", np.asarray(image), step, dataformats="HWC"
        )
        self._writer.add_text(f"{split}/per_class", per_class_markdown(result), step)
        self._writer.flush()

    def progress(self, **fields: Any) -> None:
        if self.active:
            self._emit("progress", **fields)

    def checkpoint(
        self, name: str, path: Path, epoch: int, step: int, metric: float | None
    ) -> None:
        if self.active:
            self._emit(
                "checkpoint",
                name=name,
                path=self._rel(path),
                epoch=epoch,
                step=step,
                metric=None if metric is None else float(metric),
            )

    def artifact(self, kind: str, path: Path) -> None:
        if self.active:
            self._emit("artifact", kind=kind, path=self._rel(path))

    def state(self, state: str, **info: Any) -> None:
        if state not in RUN_STATES:
            raise ValueError(f"unknown run state {state!r}; use one of {sorted(RUN_STATES)}")
        if self.active:
            self._emit("state", state=state, **info)

    def log(self, message: str, level: str = "info") -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {sorted(LOG_LEVELS)}")
        if self.active:
            self._emit("log", level=level, message=str(message))

    def close(self) -> None:
        """Flush and close TensorBoard and the event log. Safe to call twice."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._events is not None:
            self._events.close()
            self._events = None
        self.active = False

    def __enter__(self) -> Tracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
