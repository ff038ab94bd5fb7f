"""Run tracking: TensorBoard summaries plus the ``events.jsonl`` event stream.

``events.jsonl`` (in the run directory) is append-only, one JSON object per line, written by one
process (rank 0). The agent tails it and relays each event into the database; the dashboard shows
them live. Every event carries:

- ``seq``: int, strictly increasing within the file, continued across resumes;
- ``time``: float, unix seconds;
- ``type``: one of the types below, plus that type's fields.

Event types the trainer emits:

``state``       ``state`` (starting | running | resumed | stopping | stopped | succeeded |
                failed | canceled) plus free-form info fields (e.g. ``reason``, ``epoch``).
                ``stopped``: the trainer honoured a stop/drain request, saved a resumable
                checkpoint and exited; the supervisor decides whether that means re-queue or
                canceled.
``log``         ``level`` (debug | info | warning | error), ``message``.
``metrics``     ``split`` (train | val | test), ``epoch``, ``step``, ``values`` {name: float}.
``train_step``  ``step``, ``epoch``, ``loss``, ``lr`` — every ``log_every`` optimizer steps.
``progress``    ``epoch``, ``epochs``, ``step``, ``total_steps``, ``eta_s``.
``checkpoint``  ``name`` (last | best | epoch_NNN), ``path`` (relative to the run directory when
                inside it), ``epoch``, ``step``, ``metric`` (monitored value or null).
``artifact``    ``kind`` (e.g. model, results, confusion_matrix), ``path`` (as for checkpoint).

Non-finite floats (NaN, ±Infinity) are written as ``null``: strict JSON has no spelling for them
(``json.dumps`` would emit the invalid token ``NaN``), and ``null`` is what chart libraries treat as
a gap. A diverged loss therefore appears as ``"loss": null``.

TensorBoard (``<run>/tb``): ``train/step_loss`` and ``train/lr`` at the optimizer step;
``<split>/<metric>`` at the global step of the epoch end; ``<split>/confusion_matrix`` (image) and
``<split>/per_class`` (markdown table); ``metrics/definitions``, the metric registry's table (which
way is better, what each metric means). The writer is flushed at epoch ends, not per step.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from visionyard.training.metric_registry import describe

if TYPE_CHECKING:  # only for annotations: keeps this module free of the torchmetrics import
    from visionyard.training.metrics import EvalResult

__all__ = [
    "EVENT_TYPES",
    "LOG_LEVELS",
    "RUN_STATES",
    "EventLog",
    "Tracker",
    "per_class_markdown",
    "render_confusion_matrix",
]

EVENT_TYPES = frozenset(
    {"state", "log", "metrics", "train_step", "progress", "checkpoint", "artifact"}
)
RUN_STATES = frozenset(
    {"starting", "running", "resumed", "stopping", "stopped", "succeeded", "failed", "canceled"}
)
LOG_LEVELS = frozenset({"debug", "info", "warning", "error"})

_RESERVED_FIELDS = frozenset({"seq", "time", "type"})
_TAIL_BLOCK = 64 * 1024


def _jsonable(value: Any) -> Any:
    """Convert ``value`` to strict-JSON-safe builtins; non-finite floats become None."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars/arrays, torch tensors (host values only)
        return _jsonable(value.tolist())
    raise TypeError(f"event field of type {type(value).__name__} is not JSON-serialisable")


class EventLog:
    """Append-only events.jsonl: one JSON object per line. The agent tails this file and relays it.

    Reopening an existing file (a resumed run) continues ``seq`` after the last complete line. A
    torn last line (the process died mid-write) is truncated away, so the file stays a sequence of
    whole JSON lines and a tailing reader never sees the fragment glued to the next event.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._next_seq = self._recover() + 1
        # Unbuffered binary append: each event is written with as few write(2) calls as the OS
        # allows (normally one), so a reader sees whole lines as soon as emit() returns.
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644
        )

    def _recover(self) -> int:
        """Drop a torn tail; return the last complete event's seq (0 if none)."""
        if not self.path.exists():
            return 0
        with open(self.path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            pos, tail = size, b""
            # Read backwards until the window holds the last newline and the whole line before it.
            while pos > 0 and tail.count(b"\n") < 2:
                step = min(_TAIL_BLOCK, pos)
                pos -= step
                fh.seek(pos)
                tail = fh.read(step) + tail
            cut = tail.rfind(b"\n")
            keep = pos + cut + 1  # up to and including the last newline; 0 if there is none
            if keep < size:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())
        lines = tail[: cut + 1].split(b"\n")
        if pos > 0:
            lines = lines[1:]  # the window may start mid-line
        # Walk complete lines from the end; a line without a valid seq is skipped, not fatal.
        for line in reversed(lines):
            if not line.strip():
                continue
            try:
                seq = json.loads(line)["seq"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(seq, int) and not isinstance(seq, bool):
                return seq
        # Rare: nothing parseable near the end of a long file; scan it all.
        return self._scan_full() if pos > 0 else 0

    def _scan_full(self) -> int:
        last = 0
        with open(self.path, "rb") as fh:
            for line in fh:
                try:
                    seq = json.loads(line)["seq"]
                except (ValueError, KeyError, TypeError):
                    continue
                if isinstance(seq, int) and not isinstance(seq, bool):
                    last = seq
        return last

    @property
    def next_seq(self) -> int:
        return self._next_seq

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        """Append one event; returns it (with ``seq``/``time``, values as written)."""
        clash = _RESERVED_FIELDS.intersection(fields)
        if clash:
            raise ValueError(f"event fields {sorted(clash)} are reserved by EventLog")
        with self._lock:
            if self._fd is None:
                raise ValueError(f"EventLog {self.path} is closed")
            event: dict[str, Any] = _jsonable(
                {"seq": self._next_seq, "time": time.time(), "type": type, **fields}
            )
            data = (
                json.dumps(event, allow_nan=False, ensure_ascii=False, separators=(",", ":")) + "\n"
            ).encode("utf-8")
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._next_seq += 1
        return event

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


# -- confusion-matrix rendering ----------------------------------------------------------------

_MAX_GRID_PX = 1000  # the grid never exceeds this for up to 1000 classes
_MAX_CELL_PX = 64
_LABEL_CHARS = 18
_FONT_PX = 12
_WHITE = np.array([247, 251, 255], dtype=np.float64)  # light end of a "Blues" ramp
_DARK = np.array([8, 48, 107], dtype=np.float64)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _fit_label(name: str, font: Any) -> str:
    if not isinstance(font, ImageFont.FreeTypeFont):
        # The bitmap fallback font only encodes Latin-1.
        name = name.encode("latin-1", "replace").decode("latin-1")
    return name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…"


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: Any) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)


def render_confusion_matrix(
    confusion: Sequence[Sequence[int]], class_names: Sequence[str], *, normalize: bool = True
) -> Image.Image:
    """A heat-map of ``confusion`` (rows = true class, columns = predicted) as an RGB image.

    Colours are row-normalised (each true class's recall distribution) when ``normalize``; otherwise
    scaled by the largest count. Counts are printed in cells when cells are large enough; axis
    labels are truncated to ``_LABEL_CHARS`` characters and thinned out when cells are smaller than
    a line of text, so 200 classes still give an image of about 1.2k pixels square.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    n = len(class_names)
    if counts.ndim != 2 or counts.shape != (n, n) or n == 0:
        raise ValueError(f"confusion matrix of shape {counts.shape} does not match {n} class names")
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        shade = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    else:
        peak = counts.max()
        shade = counts / peak if peak > 0 else np.zeros(counts.shape)
    cell = max(1, min(_MAX_CELL_PX, _MAX_GRID_PX // n))
    grid_px = cell * n
    rgb = _WHITE + (_DARK - _WHITE) * shade[..., None]
    grid = Image.fromarray(rgb.round().astype(np.uint8), "RGB").resize(
        (grid_px, grid_px), Image.Resampling.NEAREST
    )

    font = _font(_FONT_PX)
    probe = ImageDraw.Draw(grid)
    labels = [_fit_label(str(c), font) for c in class_names]
    label_w = max(_text_size(probe, s, font)[0] for s in labels)
    line_h = _text_size(probe, "Hg", font)[1] + 2
    every = max(1, math.ceil(line_h / cell))  # thin labels so they never overlap
    pad = 6
    left = label_w + line_h + 3 * pad  # y tick labels + rotated "true" axis title
    top = line_h + 2 * pad  # title
    bottom = label_w + line_h + 4 * pad  # rotated x tick labels + "predicted" axis title
    title = "confusion matrix (row-normalised)" if normalize else "confusion matrix (counts)"
    width = left + max(grid_px, _text_size(probe, title, font)[0]) + pad * 2
    height = top + grid_px + bottom
    img = Image.new("RGB", (width, height), "white")
    img.paste(grid, (left, top))
    draw = ImageDraw.Draw(img)

    if cell >= 6:
        for i in range(n + 1):
            xy = i * cell
            draw.line([(left + xy, top), (left + xy, top + grid_px)], fill=(210, 210, 210))
            draw.line([(left, top + xy), (left + grid_px, top + xy)], fill=(210, 210, 210))

    if cell >= 2 * line_h:
        for r in range(n):
            for c in range(n):
                text = str(int(counts[r, c]))
                tw, th = _text_size(draw, text, font)
                if tw > cell - 4:
                    continue
                colour = "white" if shade[r, c] > 0.5 else (40, 40, 40)
                x = left + c * cell + (cell - tw) // 2
                y = top + r * cell + (cell - th) // 2
                draw.text((x, y), text, fill=colour, font=font, anchor="lt")

    draw.text((left, pad), title, fill="black", font=font, anchor="lt")
    for i in range(0, n, every):
        tw, _ = _text_size(draw, labels[i], font)
        y = top + i * cell + cell // 2
        draw.text((left - pad - tw, y), labels[i], fill="black", font=font, anchor="lm")
    # x labels: draw horizontally on a strip, rotate it 90° and paste under the grid.
    strip = Image.new("RGB", (label_w + pad, grid_px), "white")
    sdraw = ImageDraw.Draw(strip)
    for i in range(0, n, every):
        # Right-aligned so that, once rotated, every label ends next to the grid.
        sdraw.text((label_w, i * cell + cell // 2), labels[i], fill="black", font=font, anchor="rm")
    img.paste(strip.transpose(Image.Transpose.ROTATE_90), (left, top + grid_px + pad))
    draw.text(
        (left + grid_px // 2, height - pad), "predicted", fill="black", font=font, anchor="md"
    )
    axis = Image.new("RGB", (max(grid_px, 1), line_h), "white")
    ImageDraw.Draw(axis).text((grid_px // 2, 0), "true", fill="black", font=font, anchor="mt")
    img.paste(axis.transpose(Image.Transpose.ROTATE_90), (pad, top))
    return img
