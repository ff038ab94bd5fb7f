"""What a dataset scan found: the samples of each split, the classes, what was left out, and
the fingerprint a run stores as ``dataset.json``. Built by ``imagefolder.scan_dataset``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One image: where it is (POSIX path relative to the dataset root), its label and size."""

    path: str
    label: int
    size: int


@dataclass
class DatasetIndex:
    """The result of :func:`scan_dataset`: classes, per-split samples and what was left out."""

    root: Path
    classes: list[str]
    splits: dict[str, list[Sample]]
    skipped: list[tuple[str, str]]
    #: how the train split was subsampled (``max_per_class``), or None when it was not
    subsampling: dict[str, Any] | None = None

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.classes))

    def counts(self) -> dict[str, dict[str, int]]:
        """Split -> class -> number of images; every class is listed for every split."""
        out: dict[str, dict[str, int]] = {}
        for split, samples in self.splits.items():
            per_class = [0] * len(self.classes)
            for sample in samples:
                per_class[sample.label] += 1
            out[split] = dict(zip(self.classes, per_class, strict=True))
        return out

    def fingerprint(self) -> dict[str, Any]:
        """JSON-able description of the dataset as scanned (the run's ``dataset.json``).

        ``file_list_sha256`` covers the sorted (relative path, size) pairs of every split, so it
        changes when a file is added, removed, renamed or rewritten with another size, and stays
        the same when the dataset folder moves elsewhere.
        """
        out: dict[str, Any] = {
            "root": str(self.root),
            "classes": list(self.classes),
            "num_images": {split: len(samples) for split, samples in self.splits.items()},
            "counts": self.counts(),
            "file_list_sha256": _file_list_sha256(self.splits),
            "skipped": [[path, reason] for path, reason in self.skipped],
        }
        if self.subsampling is not None:
            out["subsampling"] = self.subsampling
        return out


def _file_list_sha256(splits: dict[str, list[Sample]]) -> str:
    digest = hashlib.sha256()
    pairs = sorted((s.path, s.size) for samples in splits.values() for s in samples)
    for path, size in pairs:
        # NUL cannot occur in a POSIX file name, so "path NUL size LF" is unambiguous even for
        # names holding newlines; surrogateescape keeps undecodable names hashable.
        digest.update(f"{path}\0{size}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()
