"""Training configs: validation of submitted TrainConfigs, immutable versions, diff, clone.

Decisions (documented for the API's users):

- ``root`` is a path relative to DATASETS_DIR (an absolute path inside it is accepted too). It must
  resolve inside DATASETS_DIR (``PathOutsideRootError``, 400) to an existing folder, and is stored
  as the resolved absolute path: the run snapshot is handed to the trainer unchanged, and agents
  see DATASETS_DIR at the same path (shared storage, like the runs root).
- ``model_flavour`` follows the model registry's rules (`services.models.resolve_source`): a
  Hugging Face id, or a save_pretrained folder under VISIONYARD_MODELS_DIR given relative to it
  or as an absolute path inside it, stored resolved (outside it: ``PathOutsideRootError``, 400).
  URLs, ``..`` and shell metacharacters are refused (422). A bare name (no '/') or a path must
  be a folder under VISIONYARD_MODELS_DIR, or a Hub id in the project's model registry; a Hub
  model is otherwise written ``org/name`` (`services.models.resolve_model_flavour`). A local
  name that does not exist is a 422 suggesting the closest folder ("did you mean"), at save
  time rather than when an agent starts the run. Cloning a version and queueing a run from one
  check its model again (a folder may have been removed since): 422 naming ``model_flavour``.
- Run placement belongs to the agent, which puts each run under the runs root: ``output_dir``,
  ``tb_root``, ``ckpt_dir`` and ``run_name`` must keep their defaults and ``resume`` may only be
  ``auto`` or ``never`` (a checkpoint path would read outside the run); other values are a 422
  naming the field. Nothing is silently stripped.
- Saving data identical (same canonical hash) to the latest version is a no-op that returns the
  existing version; identical to an older version creates a new version (a revert is history).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import configs as repo
from visionyard.dashboard.services.models import (
    recheck_saved_model,
    registered_hub_ids,
    resolve_model_flavour,
)
from visionyard.dashboard.services.projects import project_not_found
from visionyard.db.models import ConfigVersion, ModelEntry, TrainingConfig
from visionyard.errors import ConfigError, ConflictError, ModelLoadError, NotFoundError
from visionyard.paths import resolve_under
from visionyard.text import text_problem
from visionyard.training.config import TRAIN_PRESETS, TrainConfig, build_config
from visionyard.training.confighash import config_hash
from visionyard.training.metric_registry import monitor_choices

#: fields the agent decides (the run's folder under the runs root) -> the only accepted value
PLACEMENT_FIELDS: dict[str, Any] = {
    name: TrainConfig.model_fields[name].default
    for name in ("output_dir", "tb_root", "ckpt_dir", "run_name")
}
RESUME_VALUES = frozenset({"auto", "never"})
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class ConfigDetail:
    config: TrainingConfig
    latest: ConfigVersion
    versions: Sequence[ConfigVersion]


@dataclass(frozen=True)
class ConfigListed:
    """A config in the project's list, with when it last changed and how often it ran."""

    config: TrainingConfig
    updated_at: Any
    run_count: int


@dataclass(frozen=True)
class ConfigDiff:
    from_version: int
    to_version: int
    changed: list[dict[str, Any]] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)


# ---- validation --------------------------------------------------------------------------------


def _bad_values(value: Any, path: str) -> list[dict[str, str]]:
    """Text no database can store (NUL, lone surrogates), non-finite floats (strict JSON and
    PostgreSQL's json type have no spelling for them) and integers beyond 64 bits (no trainer
    setting needs them, and JavaScript clients would read them back as other numbers), wherever
    they hide."""
    if isinstance(value, str):
        problem = text_problem(value)
        return [{"field": path, "message": problem}] if problem else []
    if isinstance(value, float) and not math.isfinite(value):
        return [{"field": path, "message": f"must be a finite number (got {value!r})"}]
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ):
        return [
            {
                "field": path,
                "message": f"must be between {INT64_MIN} and {INT64_MAX} (a 64-bit integer)",
            }
        ]
    problems: list[dict[str, str]] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            # A top-level key "" is named as the config itself: every field error names a field.
            sub = f"{path}.{key}" if path else (str(key) or "<config>")
            problem = text_problem(str(key))
            if problem:
                problems.append({"field": path or "<config>", "message": f"keys {problem}"})
                continue
            problems.extend(_bad_values(item, sub))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            problems.extend(_bad_values(item, f"{path}.{index}"))
    return problems


def _placement_errors(data: Mapping[str, Any]) -> list[dict[str, str]]:
    problems = []
    for name, default in PLACEMENT_FIELDS.items():
        if name in data and data[name] != default:
            problems.append(
                {
                    "field": name,
                    "message": f"is chosen by the dashboard (each run gets its own folder under "
                    f"the runs root); remove it or set it to {default!r}",
                }
            )
    resume = data.get("resume", "auto")
    if isinstance(resume, str) and resume.strip() not in RESUME_VALUES:
        problems.append(
            {
                "field": "resume",
                "message": "must be 'auto' or 'never' in the dashboard (a checkpoint path would "
                "read outside the run); re-queue a run to continue it instead",
            }
        )
    return problems


def _field_error(field_name: str, value: str, message: str) -> ConfigError:
    shown = f"{value[:200]!r}" + ("..." if len(value) > 200 else "")
    return ConfigError(
        f"invalid training config: {field_name} {shown}: {message}",
        [{"field": field_name, "message": message}],
    )


def _resolve_root(root: str, datasets_root: Path) -> str:
    resolved = resolve_under(root, datasets_root, what="root", env_name="DATASETS_DIR")
    try:
        is_dir = resolved.is_dir()
    except OSError as exc:  # a name too long for the file system
        raise _field_error("root", root, f"cannot be read ({exc.strerror or exc})") from None
    if not is_dir:
        raise _field_error(
            "root",
            root,
            f"is not a dataset folder under DATASETS_DIR ({datasets_root.resolve()}); copy the "
            "dataset there first (train/ and val/ class folders) or fix the path; GET "
            "/api/v1/datasets lists the registered ones",
        )
    return str(resolved)


def _resolve_model(model_flavour: str, models_root: Path, registered: Collection[str]) -> str:
    """The registry's rules (one implementation): a hub id as given, or a save_pretrained folder
    under VISIONYARD_MODELS_DIR stored as its resolved absolute path; a local name must exist."""
    try:
        return resolve_model_flavour(model_flavour, models_root, registered=registered)
    except ModelLoadError as exc:
        raise _field_error("model_flavour", model_flavour, str(exc)) from None


def validate_config_data(
    data: Mapping[str, Any],
    *,
    datasets_root: Path,
    models_root: Path,
    registered_models: Collection[str] = (),
) -> tuple[dict[str, Any], str]:
    """Validate a submitted TrainConfig; return (stored data, its canonical hash).

    ConfigError (422) lists every field problem found at once: unknown keys, types, bounds,
    placement fields, NUL characters, non-finite numbers. `registered_models` are the Hub ids
    of the project's model registry (a bare one is a Hub id only when registered).
    """
    problems = _bad_values(dict(data), "") + _placement_errors(data)
    try:
        cfg = build_config(data)
    except ConfigError as exc:
        problems.extend(exc.fields)
        cfg = None
    if cfg is not None:
        problems.extend(_bad_values(cfg.model_dump(mode="json"), ""))
    if problems:
        unique = list({(p["field"], p["message"]): p for p in problems}.values())
        lines = "\n".join(f"  - {p['field']}: {p['message']}" for p in unique)
        raise ConfigError(f"invalid training config:\n{lines}", unique)
    assert cfg is not None
    updates = {"root": _resolve_root(cfg.root, datasets_root)}
    updates["model_flavour"] = _resolve_model(cfg.model_flavour, models_root, registered_models)
    stored = cfg.model_copy(update=updates).model_dump(mode="json")
    return stored, config_hash(stored)


# ---- configs and versions -----------------------------------------------------------------------


def _config_or_404(session: Session, config_id: int, *, for_update: bool = False) -> TrainingConfig:
    config = repo.get(session, config_id, for_update=for_update)
    if config is None:
        raise NotFoundError(f"config {config_id} does not exist; list a project's configs")
    return config


def _version_or_404(session: Session, config: TrainingConfig, version: int) -> ConfigVersion:
    row = repo.get_version(session, config.id, version)
    if row is None:
        raise NotFoundError(
            f"config {config.id} ({config.name!r}) has no version {version}; it has versions "
            f"1..{config.latest_version}"
        )
    return row


def _new_config(session: Session, project_id: int, name: str) -> TrainingConfig:
    if not repo.project_exists(session, project_id):
        raise project_not_found(project_id)
    if repo.get_by_name(session, project_id, name) is not None:
        raise ConflictError(
            f"project {project_id} already has a config named {name!r}; choose another name "
            "or save a new version of that config"
        )
    try:
        return repo.add_config(session, project_id=project_id, name=name)
    except IntegrityError:
        # Lost a race with a concurrent create of the same name.
        raise ConflictError(
            f"project {project_id} already has a config named {name!r}; choose another name"
        ) from None


def create_config(
    session: Session,
    *,
    project_id: int,
    name: str,
    data: Mapping[str, Any],
    message: str,
    user_id: int,
    datasets_root: Path,
    models_root: Path,
) -> ConfigDetail:
    # The TrainConfig is inspected first (an unknown project's registry is just empty).
    stored, digest = validate_config_data(
        data,
        datasets_root=datasets_root,
        models_root=models_root,
        registered_models=registered_hub_ids(session, project_id),
    )
    config = _new_config(session, project_id, name)
    version = repo.add_version(
        session, config, data=stored, config_hash=digest, message=message, created_by=user_id
    )
    return ConfigDetail(config, version, [version])


def save_version(
    session: Session,
    config_id: int,
    *,
    data: Mapping[str, Any],
    message: str,
    user_id: int,
    datasets_root: Path,
    models_root: Path,
) -> tuple[ConfigDetail, bool]:
    """Append a version with `data`; returns (detail, created). Data identical to the latest
    version creates nothing (created=False)."""
    config = _config_or_404(session, config_id, for_update=True)
    stored, digest = validate_config_data(
        data,
        datasets_root=datasets_root,
        models_root=models_root,
        registered_models=registered_hub_ids(session, config.project_id),
    )
    latest = _version_or_404(session, config, config.latest_version)
    created = latest.config_hash != digest
    if created:
        try:
            repo.add_version(
                session,
                config,
                data=stored,
                config_hash=digest,
                message=message,
                created_by=user_id,
            )
        except IntegrityError:
            raise ConflictError(
                f"config {config_id} was changed by someone else at the same time; reload it "
                "and save again"
            ) from None
    return get_config(session, config_id), created


def get_config(session: Session, config_id: int) -> ConfigDetail:
    config = _config_or_404(session, config_id)
    versions = repo.all_versions(session, config_id)
    return ConfigDetail(config, versions[-1], versions)


def list_configs(
    session: Session,
    *,
    project_id: int,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[ConfigListed], int]:
    if not repo.project_exists(session, project_id):
        raise project_not_found(project_id)
    configs, total = repo.list_page(
        session,
        project_id=project_id,
        q=q,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )
    stats = repo.list_stats(session, [c.id for c in configs])
    listed = []
    for config in configs:
        updated_at, run_count = stats[config.id]
        listed.append(ConfigListed(config, updated_at or config.created_at, run_count))
    return listed, total


def get_version(session: Session, config_id: int, version: int) -> ConfigVersion:
    return _version_or_404(session, _config_or_404(session, config_id), version)


def list_versions(
    session: Session, config_id: int, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[ConfigVersion], int]:
    _config_or_404(session, config_id)
    return repo.versions_page(session, config_id, descending=descending, limit=limit, offset=offset)


def diff_data(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(changed, added, removed) top-level keys, sorted by key. TrainConfig is flat, so a
    nested value (a label map) is compared and reported whole."""
    changed = [
        {"key": k, "old": old[k], "new": new[k]}
        for k in sorted(old.keys() & new.keys())
        if old[k] != new[k]
    ]
    added = [{"key": k, "new": new[k]} for k in sorted(new.keys() - old.keys())]
    removed = [{"key": k, "old": old[k]} for k in sorted(old.keys() - new.keys())]
    return changed, added, removed


def diff_versions(
    session: Session, config_id: int, from_version: int, to_version: int
) -> ConfigDiff:
    config = _config_or_404(session, config_id)
    old = _version_or_404(session, config, from_version)
    new = _version_or_404(session, config, to_version)
    changed, added, removed = diff_data(old.data, new.data)
    return ConfigDiff(from_version, to_version, changed, added, removed)


def clone_config(
    session: Session,
    config_id: int,
    *,
    name: str,
    version: int | None,
    user_id: int,
    models_root: Path,
) -> ConfigDetail:
    """A new config in the same project whose version 1 is a copy of `version` (default: the
    latest). The data was validated when that version was saved, so it is copied as is; only
    its model is checked again (its folder may be gone)."""
    source = _config_or_404(session, config_id)
    picked = _version_or_404(session, source, version or source.latest_version)
    check_version_model(session, source, picked, models_root)
    config = _new_config(session, source.project_id, name)
    copy = repo.add_version(
        session,
        config,
        data=dict(picked.data),
        config_hash=picked.config_hash,
        message=f"cloned from {source.name!r} version {picked.version}",
        created_by=user_id,
    )
    return ConfigDetail(config, copy, [copy])


def check_version_model(
    session: Session, config: TrainingConfig, version: ConfigVersion, models_root: Path
) -> None:
    """The model of a saved version is still usable (ConfigError, 422, if not)."""
    recheck_saved_model(
        version.data,
        models_root,
        registered=registered_hub_ids(session, config.project_id),
        saved_as=f"config {config.id} ({config.name!r}) version {version.version}",
    )


def delete_config(session: Session, config_id: int) -> None:
    _config_or_404(session, config_id)
    repo.remove(session, config_id)


# ---- choices for the config form ----------------------------------------------------------------

MAX_LISTED_MODELS = 500


def choices(field_name: str) -> list[str]:
    """The allowed values of a Literal TrainConfig field, read from the model itself so the UI
    never offers a value the validator refuses."""
    return [str(v) for v in get_args(TrainConfig.model_fields[field_name].annotation)]


@dataclass(frozen=True)
class FormOptions:
    optimizers: list[str]
    schedulers: list[str]
    losses: list[str]
    train_presets: dict[str, str]
    autocast_dtypes: list[str]
    monitor_metrics: list[str]
    monitor_modes: list[str]
    models: Sequence[ModelEntry] | None


def form_options(session: Session, project_id: int | None) -> FormOptions:
    models = None
    if project_id is not None:
        if not repo.project_exists(session, project_id):
            raise project_not_found(project_id)
        models = repo.project_models(session, project_id, limit=MAX_LISTED_MODELS)
    return FormOptions(
        optimizers=choices("optimizer"),
        schedulers=choices("scheduler"),
        losses=choices("loss_name"),
        train_presets=dict(TRAIN_PRESETS),
        autocast_dtypes=choices("autocast_dtype"),
        monitor_metrics=monitor_choices(),
        monitor_modes=choices("monitor_mode"),
        models=models,
    )
