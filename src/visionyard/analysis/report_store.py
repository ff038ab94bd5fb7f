"""Where a run keeps its evaluation reports, and reading them back, without torch.

A report is ``<run>/reports/<checkpoint>-<split>.json`` (``best-val.json``,
``epoch_003-test.json``): one file per checkpoint and split, rewritten atomically when computed
again, so the dashboard and a second computation never see half a file. What a report holds
is ``report.py``'s.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from visionyard.analysis.checkpoints import canonical_name
from visionyard.errors import ConflictError, InvalidRequestError, NotFoundError
from visionyard.training.fsutil import atomic_write_json

REPORTS_DIR = "reports"
REPORT_VERSION = 1
#: The splits a report can evaluate: those the model never trained on (see ``check_split``), and
#: "upload", a labelled set a user uploaded (kept in ``UPLOADED_DIR/<checkpoint>/upload/``).
REPORT_SPLITS = ("val", "test", "upload")
UPLOADED_DIR = "uploaded"
_FILE_RE = re.compile(r"^(best|last|epoch_\d{3,6})-(val|test|upload)\.json$")


def check_split(split: str) -> str:
    """`split` when a report may evaluate it. The train split is refused: the model was fit to
    those very labels, so its predictions there are in-sample, and confident learning on
    in-sample probabilities misses most label errors (the model memorised them)."""
    if split == "train":
        raise InvalidRequestError(
            "a report evaluates val or test, not train: the model's predictions on its own "
            "training images are in-sample, so its accuracy there and the label errors found "
            "from them would mislead. To check the training labels, train a run whose val/ "
            "holds them (swap the folders) or cross-validate",
            [{"field": "split", "message": "use val or test"}],
        )
    if split not in REPORT_SPLITS:
        raise InvalidRequestError(
            f"unknown split {split!r}: use val or test (or upload, for an uploaded labelled set)",
            [{"field": "split", "message": "use val or test"}],
        )
    return split


def uploaded_root(run_dir: Path, checkpoint: str) -> Path:
    """Where the labelled images uploaded for `checkpoint` are kept (their dataset root)."""
    return Path(run_dir) / REPORTS_DIR / UPLOADED_DIR / canonical_name(checkpoint)


def report_path(run_dir: Path, checkpoint: str, split: str) -> Path:
    return Path(run_dir) / REPORTS_DIR / f"{canonical_name(checkpoint)}-{check_split(split)}.json"


def save_report(run_dir: Path, report: dict[str, Any]) -> Path:
    """Write `report` to its place in the run folder (atomically); returns the path."""
    path = report_path(run_dir, report["checkpoint"]["name"], report["split"])
    atomic_write_json(path, report)
    return path


def load_report(run_dir: Path, checkpoint: str, split: str = "val") -> dict[str, Any]:
    """The stored report of `checkpoint` on `split`. NotFoundError when none was computed;
    ConflictError when the file is unreadable or from another report version."""
    path = report_path(run_dir, checkpoint, split)
    if not path.is_file():
        raise NotFoundError(
            f"no evaluation report for checkpoint {canonical_name(checkpoint)!r} on {split} yet: "
            "compute it (`visionyard report RUN_DIR --checkpoint NAME --split SPLIT`, or POST "
            "to the dashboard's reports endpoint); a run writes best on val itself when it "
            "finishes with eval_report=true"
        )
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConflictError(
            f"the report {path.name} cannot be read ({exc}); compute it again"
        ) from None
    if not isinstance(report, dict) or report.get("version") != REPORT_VERSION:
        raise ConflictError(
            f"the report {path.name} is not a version {REPORT_VERSION} report; compute it again"
        )
    return report


def list_reports(run_dir: Path) -> list[tuple[str, str]]:
    """(checkpoint, split) of every report file the run holds, sorted by file name."""
    folder = Path(run_dir) / REPORTS_DIR
    if not folder.is_dir():
        return []
    found = []
    for entry in sorted(folder.iterdir()):
        match = _FILE_RE.match(entry.name)
        if match and entry.is_file() and not entry.is_symlink():
            found.append((match.group(1), match.group(2)))
    return found
