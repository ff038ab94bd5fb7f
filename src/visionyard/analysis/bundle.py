"""An export bundle: one checkpoint of a run, ready to hand to someone, as a folder and a
``.tar.gz`` of the same files.

Layout (paths inside the folder and the archive; the archive has no top-level folder)::

    bundle.json            manifest: run, checkpoint, metrics source, ONNX summary, every
                           file's size and sha256
    model/                 Hugging Face folder of this checkpoint's weights (safetensors only),
                           image processor and model card (per-class metrics, dataset
                           fingerprint, training configuration)
    train_config.json      the run's resolved TrainConfig, verbatim (local paths included)
    model.onnx             with ONNX only: pixel_values -> logits, batch dimension dynamic
    onnx_validation.json   with ONNX only: the check against PyTorch (see onnx_export)

Why a gzipped tar and not a zip: its bytes depend only on the files (names sorted, fixed
mtime/owner/mode, gzip header without a time), Python's ``tarfile`` unpacks it safely with the
``data`` filter, and every platform's ``tar`` reads it.

Everything is built in a hidden staging folder next to the result and moved into place at the
end, so an export that fails (ONNX disagrees, a bad checkpoint) leaves no bundle behind, and a
reader never sees a half-written one. The model always runs on the CPU here: exports happen on
a dashboard host or a laptop, where GPUs belong to training.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from visionyard import __version__
from visionyard.analysis.checkpoint_metrics import checkpoint_metrics
from visionyard.analysis.checkpoints import canonical_name
from visionyard.analysis.classifier import Classifier, load_classifier
from visionyard.analysis.onnx_export import OnnxValidation, export_onnx, validate_onnx
from visionyard.errors import RunFolderError
from visionyard.training.checkpoint import swap_directory
from visionyard.training.checkpoint_files import sha256_file
from visionyard.training.export import export_hf_model, public_model_name
from visionyard.training.fsutil import fsync_dir
from visionyard.training.runreader import CONFIG_FILE, LAYOUT_HINT

EXPORTS_DIR = "exports"
MANIFEST_FILE = "bundle.json"
MODEL_DIR = "model"
TRAIN_CONFIG_FILE = "train_config.json"
ONNX_FILE = "model.onnx"
ONNX_REPORT_FILE = "onnx_validation.json"
ARCHIVE_SUFFIX = ".tar.gz"
BUNDLE_FORMAT = "visionyard-export-bundle/1"


@dataclass(frozen=True)
class Bundle:
    name: str  # "<checkpoint>" or "<checkpoint>-onnx"
    archive: Path
    folder: Path | None  # None when the folder was not kept
    size: int  # of the archive, in bytes
    sha256: str  # of the archive
    manifest: dict[str, Any]
    onnx: OnnxValidation | None


def bundle_name(checkpoint: str, onnx: bool) -> str:
    """``best``, ``epoch_003-onnx``...: the checkpoint's canonical name, ``-onnx`` with ONNX."""
    canonical = canonical_name(checkpoint)
    return f"{canonical}-onnx" if onnx else canonical


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def check_run_folder(run_dir: Path) -> Path:
    run_dir = Path(run_dir).expanduser()
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a folder; give a run folder: {LAYOUT_HINT}")
    if not (run_dir / CONFIG_FILE).is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no {CONFIG_FILE}): {LAYOUT_HINT}")
    return run_dir


def _example_pixels(classifier: Classifier) -> Any:
    # Only the shape matters to the exporter; a blank image gives it without reading the dataset.
    return classifier.pixel_values([Image.new("RGB", (64, 64))]).cpu()


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _onnx_summary(validation: OnnxValidation | None) -> str:
    if validation is None:
        return "not exported"
    if not validation.validated:
        return f"exported, NOT validated: {validation.reason}"
    return (
        f"`{ONNX_FILE}`, validated against PyTorch on {validation.images} val images: largest "
        f"logit difference {validation.max_abs_logit_diff:.3g} (tolerance "
        f"{validation.tolerance:g}), top-1 agreement {validation.top1_agreement:.0%}"
    )


def _files(folder: Path) -> list[dict[str, Any]]:
    return [
        {
            "path": p.relative_to(folder).as_posix(),
            "size": p.stat().st_size,
            "sha256": sha256_file(p),
        }
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def _write_archive(folder: Path, archive: Path, mtime: int) -> None:
    """`folder`'s files as a reproducible .tar.gz at `archive` (atomically)."""
    tmp = archive.with_name(f".tmp-{archive.name}-{uuid.uuid4().hex}")
    try:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for path in sorted(folder.rglob("*")):
                info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
                info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
                info.mode = 0o755 if info.isdir() else 0o644
                if info.isfile():
                    with path.open("rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
        # The gzip trailer is written when the `with` closes; only then is the file whole.
        with tmp.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(tmp, archive)
        fsync_dir(archive.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def build_bundle(
    run_dir: Path,
    checkpoint: str = "best",
    *,
    onnx: bool = True,
    out_dir: Path | None = None,
    keep_folder: bool = True,
) -> Bundle:
    """Export `checkpoint` (best, last, epoch_N) of the run in `run_dir` as a bundle named
    :func:`bundle_name` in `out_dir` (default ``<run>/exports``): ``<name>.tar.gz``, and the
    folder ``<name>/`` when `keep_folder`. An earlier bundle of the same name is replaced."""
    run_dir = check_run_folder(run_dir)
    name = bundle_name(checkpoint, onnx)
    classifier = load_classifier(run_dir, checkpoint, device="cpu")
    info = classifier.checkpoint
    config = _read_json(run_dir / CONFIG_FILE)
    fingerprint = _read_json(run_dir / "dataset.json")
    run_name = str(config.get("run_name") or run_dir.name)

    out = Path(out_dir).expanduser() if out_dir is not None else run_dir / EXPORTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".tmp-{name}-{uuid.uuid4().hex}"
    staging.mkdir()
    try:
        validation: OnnxValidation | None = None
        if onnx:
            export_onnx(classifier.model, _example_pixels(classifier), staging / ONNX_FILE)
            validation = validate_onnx(classifier, staging / ONNX_FILE, run_dir)
            _write_json(staging / ONNX_REPORT_FILE, validation.to_json())
        card = checkpoint_metrics(classifier, run_dir)
        provenance = [
            ("run", run_name),
            ("checkpoint", info.name),
            ("epochs completed", info.epoch),
            ("optimizer steps", info.step),
            ("metrics", card.source),
            ("ONNX", _onnx_summary(validation)),
            ("exported by", f"Visionyard {__version__}"),
        ]
        base_model = config.get("model_flavour")
        export_hf_model(
            classifier.model,
            classifier.processor,
            staging / MODEL_DIR,
            class_names=classifier.class_names,
            metrics=card.metrics,
            per_class=card.per_class,
            dataset_fingerprint=fingerprint,
            train_config=config,
            base_model=base_model if isinstance(base_model, str) else None,
            provenance=provenance,
        )
        _write_json(staging / TRAIN_CONFIG_FILE, config)
        manifest = {
            "format": BUNDLE_FORMAT,
            "visionyard_version": __version__,
            "run": {
                "name": run_name,
                "base_model": public_model_name(base_model)
                if isinstance(base_model, str)
                else None,
            },
            "checkpoint": {
                "name": info.name,
                "epoch": info.epoch,
                "step": info.step,
                "saved_at": info.saved_at,
            },
            "class_names": classifier.class_names,
            "metrics_source": card.source,
            "dataset": {
                k: fingerprint.get(k) for k in ("file_list_sha256", "num_images", "classes")
            },
            "onnx": validation.to_json() if validation else None,
            "files": _files(staging),
        }
        _write_json(staging / MANIFEST_FILE, manifest)
        archive = out / f"{name}{ARCHIVE_SUFFIX}"
        mtime = int((info.path / "model.safetensors").stat().st_mtime)
        _write_archive(staging, archive, mtime)
        folder: Path | None = None
        if keep_folder:
            folder = out / name
            swap_directory(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when it became the folder
    return Bundle(
        name=name,
        archive=archive,
        folder=folder,
        size=archive.stat().st_size,
        sha256=sha256_file(archive),
        manifest=manifest,
        onnx=validation,
    )
