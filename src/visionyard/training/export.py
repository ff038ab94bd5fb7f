"""Export a trained classifier as a Hugging Face folder with a model card.

The folder (``runs/<run>/model/``) holds config.json with id2label/label2id, model.safetensors,
preprocessor_config.json and README.md, and loads offline with
``transformers.pipeline("image-classification", model=folder)``. Weights are safetensors only:
a ``.bin`` is a pickle, which anyone loading the model would have to trust.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from torch import nn

from visionyard.errors import ConfigError
from visionyard.modelsource import is_hub_id
from visionyard.training.checkpoint import swap_directory
from visionyard.training.fsutil import fsync_dir
from visionyard.training.hf_quiet import quiet_transformers

# TrainConfig fields worth a reader's attention, in the order the card lists them.
_CONFIG_HIGHLIGHTS = (
    "model_flavour", "load_pretrained", "freeze_backbone", "epochs", "batch_size",
    "grad_accum_steps", "optimizer", "lr", "weight_decay", "warmup_ratio", "max_grad_norm",
    "loss_name", "autocast_dtype", "monitor_metric", "monitor_mode", "seed",
    "max_datapoints_per_class", "gpu_batch_aug", "cpu_color_jitter",
)  # fmt: skip


@runtime_checkable
class _Exportable(Protocol):
    """What export needs of a model: a Hugging Face PreTrainedModel's config and save."""

    config: Any

    def save_pretrained(self, save_directory: Path, /, **kwargs: Any) -> Any: ...


def unwrap_model(model: nn.Module) -> nn.Module:
    """Strip DistributedDataParallel / DataParallel (``.module``) and torch.compile
    (``._orig_mod``) wrappers, in any nesting, so the real model is saved with its own key names."""
    from torch.nn.parallel import DataParallel, DistributedDataParallel

    for _ in range(16):  # wrappers nest a few levels at most; the bound guards against cycles
        inner = getattr(model, "_orig_mod", None)
        if isinstance(inner, nn.Module):
            model = inner
        elif isinstance(model, (DistributedDataParallel, DataParallel)):
            model = model.module
        else:
            break
    return model


# --------------------------------------------------------------------------- model card


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        # Metrics read best with fixed decimals; tiny values (a 1e-5 learning rate) would print
        # as 0.0000 that way, so they get significant digits instead.
        return f"{value:.4f}" if value == 0 or 1e-3 <= abs(value) < 1e6 else f"{value:.3g}"
    text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _flatten_scalars(metrics: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """("val/accuracy", 0.93)-style pairs; lists (confusion matrices, curves) are left out."""
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten_scalars(value, prefix=f"{name}/")
        elif value is None or isinstance(value, (int, float, str)):
            yield name, value


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in row:
            return row[key]
    return None


def _split_counts(fingerprint: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """split -> {class: count}, from either ``{"splits": {split: {class: n}}}`` or
    ``{"splits": {split: {"counts": {class: n}, ...}}}`` (also under the key "counts")."""
    for key in ("splits", "counts"):
        splits = fingerprint.get(key)
        if not isinstance(splits, Mapping):
            continue
        out: dict[str, Mapping[str, Any]] = {}
        for split, value in splits.items():
            if isinstance(value, Mapping) and isinstance(value.get("counts"), Mapping):
                out[str(split)] = value["counts"]
            elif isinstance(value, Mapping) and all(isinstance(v, int) for v in value.values()):
                out[str(split)] = value
        if out:
            return out
    return {}


def _dataset_section(fingerprint: Mapping[str, Any], class_names: Sequence[str]) -> list[str]:
    lines = ["## Dataset", ""]
    splits = _split_counts(fingerprint)
    if splits:
        names = list(class_names) or sorted({c for counts in splits.values() for c in counts})
        header = ["class", *splits]
        rows = [[name, *(splits[s].get(name, 0) for s in splits)] for name in names]
        rows.append(["**total**", *(sum(int(v) for v in splits[s].values()) for s in splits)])
        lines += _table(header, rows) + [""]
    for key, value in fingerprint.items():
        if key == "root" and isinstance(value, str):
            # Only the folder name: a card may be published, the machine's paths should not be.
            lines.append(f"- dataset folder: `{_cell(Path(value).name)}`")
        elif key == "skipped" and isinstance(value, list):
            lines.append(f"- unreadable files skipped: {len(value)}")
        elif isinstance(value, (str, int, float, bool)) or value is None:
            lines.append(f"- {key}: `{_cell(value)}`")
    return [*lines, ""]


def _is_hub_model(base_model: str) -> bool:
    return is_hub_id(base_model) and not Path(base_model).exists()


def public_model_name(base_model: str) -> str:
    """How a card or bundle names the base model: a Hub id as it is; a local folder by its
    name only (a card may be published, the machine's paths should not be)."""
    if _is_hub_model(base_model):
        return base_model
    return f"local folder {Path(base_model.rstrip('/')).name or 'model'}"


def _front_matter(base_model: str | None) -> list[str]:
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: image-classification",
        "tags:",
        "- image-classification",
        "- vision",
        "- visionyard",
    ]
    # The Hub reads base_model as a repo id; a local path there would be a broken link.
    if base_model and _is_hub_model(base_model):
        lines.append(f"base_model: {base_model}")
    return [*lines, "---", ""]


def render_model_card(
    *,
    class_names: Sequence[str],
    metrics: Mapping[str, Any] | None = None,
    per_class: Sequence[Mapping[str, Any]] | None = None,
    dataset_fingerprint: Mapping[str, Any] | None = None,
    train_config: Mapping[str, Any] | None = None,
    base_model: str | None = None,
    provenance: Sequence[tuple[str, Any]] | None = None,
) -> str:
    """The README.md model card text (YAML front matter + Markdown). `provenance` lists
    (what, value) pairs saying where the exported weights and metrics come from."""
    lines = _front_matter(base_model)
    lines += [
        "# Image classifier trained with Visionyard",
        "",
        f"Fine-tuned from `{public_model_name(base_model)}`."
        if base_model
        else "Base model: not recorded.",
        "",
        f"Classes ({len(class_names)}, in logit order): "
        + ", ".join(f"`{name}`" for name in class_names),
        "",
    ]
    if provenance:
        lines += ["## This export", "", *_table(["item", "value"], provenance), ""]
    if dataset_fingerprint:
        lines += _dataset_section(dataset_fingerprint, class_names)
    scalars = list(_flatten_scalars(metrics or {}))
    if scalars:
        lines += ["## Metrics", "", *_table(["metric", "value"], scalars), ""]
    if per_class:
        rows = [
            [
                _first(row, "class", "class_name", "name", "label"),
                _first(row, "precision"),
                _first(row, "recall"),
                _first(row, "f1", "f1_score"),
                _first(row, "support"),
            ]
            for row in per_class
        ]
        header = ["class", "precision", "recall", "F1", "support"]
        lines += ["## Per-class results", "", *_table(header, rows), ""]
    if train_config:
        highlights = [(k, train_config[k]) for k in _CONFIG_HIGHLIGHTS if k in train_config]
        if highlights:
            lines += ["## Training configuration", "", *_table(["setting", "value"], highlights)]
            lines += ["", "The full resolved configuration is the run's `config.json`.", ""]
    lines += [
        "## How to use",
        "",
        "```python",
        "from transformers import pipeline",
        "",
        '# "path/to/model" is this folder',
        'classifier = pipeline("image-classification", model="path/to/model")',
        'print(classifier("image.jpg", top_k=3))',
        "```",
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- export


def _save_weights(model: _Exportable, directory: Path) -> None:
    save = model.save_pretrained
    # transformers 4.x needs safe_serialization=True; 5.x always writes safetensors and has
    # no such parameter (it would be silently swallowed by **kwargs).
    with quiet_transformers():
        if "safe_serialization" in inspect.signature(save).parameters:
            save(directory, safe_serialization=True)
        else:
            save(directory)


def _remove_stale(parent: Path, name: str) -> None:
    pattern = re.compile(rf"^\.(tmp|old)-{re.escape(name)}-[0-9a-f]{{32}}$")
    for entry in parent.iterdir():
        if pattern.match(entry.name) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)


def export_hf_model(
    model: nn.Module,
    processor: Any,
    out_dir: Path,
    *,
    class_names: Sequence[str],
    metrics: Mapping[str, Any] | None = None,
    per_class: Sequence[Mapping[str, Any]] | None = None,
    dataset_fingerprint: Mapping[str, Any] | None = None,
    train_config: Mapping[str, Any] | None = None,
    base_model: str | None = None,
    provenance: Sequence[tuple[str, Any]] | None = None,
) -> Path:
    """Write `model` + `processor` + model card to `out_dir` atomically; return `out_dir`.

    ``class_names[i]`` is the label of logit ``i`` (the dataset contract makes this the sorted
    train class order). The model's config gets matching id2label/label2id in the saved copy;
    the in-memory model's config is left as it was.
    """
    model = unwrap_model(model)
    names = [str(n) for n in class_names]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"class_names must be non-empty and unique, got {names!r}")
    config = getattr(model, "config", None)
    if config is None or not isinstance(model, _Exportable):
        raise ConfigError(
            f"cannot export {type(model).__name__}: only Hugging Face PreTrainedModel instances "
            "(with .config and .save_pretrained) can be exported"
        )
    if getattr(config, "num_labels", len(names)) != len(names):
        raise ConfigError(
            f"the model has {config.num_labels} outputs but {len(names)} class_names were given "
            f"({names}); pass the class list the model was trained with"
        )

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(out_dir.parent, out_dir.name)
    tmp = out_dir.parent / f".tmp-{out_dir.name}-{uuid.uuid4().hex}"
    tmp.mkdir()
    saved_labels = (config.id2label, config.label2id)
    try:
        config.id2label = dict(enumerate(names))
        config.label2id = {name: i for i, name in enumerate(names)}
        try:
            _save_weights(model, tmp)
        finally:
            config.id2label, config.label2id = saved_labels
        processor.save_pretrained(tmp)
        card = render_model_card(
            class_names=names,
            metrics=metrics,
            per_class=per_class,
            dataset_fingerprint=dataset_fingerprint,
            train_config=train_config,
            base_model=base_model,
            provenance=provenance,
        )
        (tmp / "README.md").write_text(card, encoding="utf-8")
        pickles = sorted(p.name for p in tmp.rglob("*.bin"))
        if pickles or not any(tmp.glob("*.safetensors")):
            raise ConfigError(
                f"export of {type(model).__name__} produced {pickles or 'no safetensors weights'}"
                "; only *.safetensors weights are allowed in an exported model"
            )
        for path in tmp.rglob("*"):
            if path.is_file():
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        fsync_dir(tmp)
        swap_directory(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
