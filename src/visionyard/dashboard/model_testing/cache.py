"""Loaded models for model testing, kept while memory allows.

A model is keyed by its checkpoint folder and that folder's manifest (a checkpoint saved again
under the same name is another model). The cache is bounded by the bytes of the models'
parameters and buffers: loading one more evicts the least recently used until the rest fit. The
one just loaded always stays, even alone over the budget, or nothing could be tested.

Torch and Transformers are imported by the loader the first time a model is needed, never when
the dashboard starts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from visionyard.analysis.checkpoints import locate_checkpoint
from visionyard.training.checkpoint_files import MANIFEST_FILE

if TYPE_CHECKING:
    from visionyard.analysis.classifier import Classifier

Loader = Callable[[Path, str], "Classifier"]
CacheKey = tuple[str, int, int]  # checkpoint folder, manifest mtime_ns, manifest size


def _load(run_dir: Path, checkpoint: str) -> Classifier:
    from visionyard.analysis.classifier import load_classifier

    return load_classifier(run_dir, checkpoint)


def model_bytes(classifier: Classifier) -> int:
    model = classifier.model
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


class ModelCache:
    """A dashboard service (start/stop) holding loaded classifiers, LRU within `max_bytes`."""

    def __init__(self, max_bytes: int, loader: Loader = _load) -> None:
        self.max_bytes = max_bytes
        self._loader = loader
        self._models: OrderedDict[CacheKey, tuple[Classifier, int]] = OrderedDict()
        self._lock = threading.Lock()
        # One load at a time: two requests for the same new model load it once.
        self._loading = threading.Lock()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        with self._lock:
            self._models.clear()

    @property
    def held_bytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._models.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._models)

    def get(self, run_dir: Path, checkpoint: str) -> Classifier:
        """The run's checkpoint as a classifier, loaded now or earlier. Loading checks every
        file's hash; a cached model is the same files as long as its manifest is unchanged."""
        folder = locate_checkpoint(run_dir, checkpoint)
        key = _key(folder)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key][0]
        with self._loading:
            with self._lock:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key][0]
            classifier = self._loader(run_dir, folder.name)
            size = model_bytes(classifier)
            with self._lock:
                self._models[key] = (classifier, size)
                self._evict_beyond_budget()
        return classifier

    def _evict_beyond_budget(self) -> None:
        total = sum(size for _, size in self._models.values())
        while total > self.max_bytes and len(self._models) > 1:
            _, (_, size) = self._models.popitem(last=False)
            total -= size


def _key(folder: Path) -> CacheKey:
    try:
        stat = (folder / MANIFEST_FILE).stat()
    except OSError:
        return (str(folder.resolve()), -1, -1)  # loading will say what is wrong with it
    return (str(folder.resolve()), stat.st_mtime_ns, stat.st_size)
