"""Model registry: Hugging Face hub ids or local save_pretrained folders under
VISIONYARD_MODELS_DIR, per project, with an optional access token that is stored encrypted and
never returned."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import models as repo
from visionyard.dashboard.services.projects import get_project
from visionyard.dashboard.state import AppState
from visionyard.db.models import ModelEntry
from visionyard.errors import (
    ConfigError,
    ConflictError,
    ModelLoadError,
    NotFoundError,
    PathOutsideRootError,
)
from visionyard.modelsource import (
    NAMING_RULE,
    did_you_mean,
    is_hub_id,
    is_local_name,
    model_folders,
)
from visionyard.paths import MAX_PATH_CHARS, SHELL_METACHARACTERS, resolve_under
from visionyard.text import text_problem

#: the width of model_entries.source
MAX_SOURCE = MAX_PATH_CHARS
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
MODELS_ENV = "VISIONYARD_MODELS_DIR"


def _bad_source(source: str, why: str, field: str) -> ConfigError:
    message = (
        f"{field} {source[:200]!r} is refused: {why}. Give a Hugging Face model id like "
        f"'google/vit-base-patch16-224' or a save_pretrained folder under {MODELS_ENV} "
        "(its path relative to it, or its absolute path)."
    )
    return ConfigError(message, fields=[{"field": field, "message": message}])


def check_source_syntax(source: str, *, field: str = "source") -> str:
    """Return the kind (`hub` | `local`) `source` is spelled as, or raise ConfigError naming
    `field`.

    Nothing here touches the file system: URLs, shell metacharacters, whitespace, control
    characters, `..` and names starting with '-' are refused by their spelling alone. `hub`
    means a valid hub id, which resolve_source still reads as a folder when the models root
    holds one of that name; `local` is any other path (absolute, or relative to the root).
    """
    if not source:
        raise _bad_source(source, "it is empty", field)
    if len(source) > MAX_SOURCE:
        raise _bad_source(source, f"it is longer than {MAX_SOURCE} characters", field)
    if any(ord(ch) < 32 or ord(ch) == 127 or ch.isspace() for ch in source):
        raise _bad_source(source, "it contains whitespace or control characters", field)
    problem = text_problem(source)
    if problem:
        raise _bad_source(source, f"it {problem}", field)
    if URL_SCHEME.match(source) or "//" in source:
        raise _bad_source(source, "URLs are not model sources", field)
    bad = sorted(set(SHELL_METACHARACTERS.findall(source)))
    if bad:
        raise _bad_source(source, f"it contains shell metacharacters {''.join(bad)!r}", field)
    if ".." in source:
        raise _bad_source(source, "'..' is not allowed", field)
    if any(part.startswith("-") for part in source.split("/")):
        # A program handed the name could read it as a command-line option.
        raise _bad_source(source, "a name starting with '-' is not allowed", field)
    if is_hub_id(source):
        return "hub"
    return "local"


def _missing(field: str, source: str, models_root: Path, what: str) -> ModelLoadError:
    return ModelLoadError(
        f"{field} folder {source[:200]} {what}; it must be a Hugging Face save_pretrained "
        f"folder (config.json and the weights) under {MODELS_ENV} ({models_root}): copy it "
        "there and give its path relative to that folder, or its absolute path."
    )


def _local_folder(source: str, models_root: Path, field: str) -> str:
    """The real path of the save_pretrained folder `source` names under `models_root`:
    PathOutsideRootError (400) when it leads out, ModelLoadError (422) when it is missing, a
    file, or holds no config.json."""
    folder = resolve_under(source, models_root, what=field, env_name=MODELS_ENV)
    base = models_root.resolve()
    try:
        if not folder.exists():
            raise _missing(field, source, base, "does not exist")
        if not folder.is_dir():
            raise _missing(field, source, base, "is a file, not a folder")
        if not (folder / "config.json").is_file():
            raise _missing(field, source, base, "has no config.json")
    except OSError as exc:  # a name too long for the file system, no permission
        raise ModelLoadError(
            f"{field} folder {source[:200]} cannot be read "
            f"({getattr(exc, 'strerror', None) or exc}); check the path and its permissions."
        ) from None
    return str(folder)


def resolve_source(source: str, models_root: Path, *, field: str = "source") -> tuple[str, str]:
    """(stored source, kind): a hub id as given, or a local folder resolved to its real path.

    A local folder must resolve inside `models_root` (PathOutsideRootError, HTTP 400, names
    VISIONYARD_MODELS_DIR) and hold config.json (ModelLoadError, HTTP 422, otherwise). A valid
    hub id is a folder when the models root holds an entry of that name (the trainer also
    prefers an existing folder), so a root can mirror hub models for offline use.
    """
    kind = check_source_syntax(source, field=field)
    if kind == "hub" and not os.path.lexists(models_root / source):
        return source, kind
    return _local_folder(source, models_root, field), "local"


def _closest_models(source: str, models_root: Path, registered: Collection[str]) -> str:
    """did_you_mean over what a config could have meant: the save_pretrained folders under the
    models root (two levels deep, as given relative to it) and the registry's Hub ids."""
    typed = source.removeprefix("./")
    base = models_root.resolve()
    if Path(typed).is_absolute() and Path(typed).is_relative_to(base):
        typed = Path(typed).relative_to(base).as_posix()
    return did_you_mean(typed, [*model_folders(base, depth=2), *registered])


def resolve_registry_source(
    source: str,
    models_root: Path,
    *,
    kind: str | None,
    registered: Collection[str],
    field: str = "source",
) -> tuple[str, str]:
    """(stored source, kind) for a registry entry. `kind` is what the person registering meant:

    - None: inferred from the spelling, as `resolve_source` does;
    - "local": a save_pretrained folder under the models root, whatever its spelling, so a
      mistyped folder name is refused instead of being taken for a Hub id;
    - "hub": a Hub id ('org/name', or a legacy bare name), refused when the models root holds
      an entry of that name (agents would load that folder instead).

    A missing folder's message names the closest folders and registered Hub ids ("did you
    mean").
    """
    syntax = check_source_syntax(source, field=field)
    try:
        if kind == "local":
            return _local_folder(source, models_root, field), "local"
        if kind == "hub":
            if syntax != "hub":
                raise _bad_source(
                    source, "it is not spelled as a Hugging Face Hub id ('org/name')", field
                )
            if os.path.lexists(models_root / source):
                message = (
                    f"{field} {source[:200]!r} is also a folder under {MODELS_ENV} "
                    f"({models_root.resolve()}), which agents would load instead of the Hub "
                    "model; register it as a local folder, or rename the folder."
                )
                raise ConfigError(message, fields=[{"field": field, "message": message}])
            return source, "hub"
        return resolve_source(source, models_root, field=field)
    except ModelLoadError as exc:
        suggestion = _closest_models(source, models_root, registered)
        if not suggestion:
            raise
        raise ModelLoadError(f"{exc} {suggestion}") from None


def resolve_model_flavour(
    source: str, models_root: Path, *, registered: Collection[str], field: str = "model_flavour"
) -> str:
    """A config's model, stored as `resolve_source` stores it, with one rule more: a local
    spelling (`modelsource.is_local_name`: a bare name or a path) must be a folder under the
    models root, unless it is a Hub id the project's registry holds (the way to use one of the
    Hub's legacy bare ids). A bare name the root does not hold is refused here, at save time,
    rather than sent to the Hub by the trainer and failing there. `org/name` stays a Hub id.

    Failures say what was meant, when a folder or a registered id is close ("did you mean"),
    and where models go (ModelLoadError, 422; a path leading out: PathOutsideRootError, 400).
    """
    try:
        stored, kind = resolve_source(source, models_root, field=field)
    except ModelLoadError as exc:  # a folder that is missing, a file, or has no config.json
        suggestion = _closest_models(source, models_root, registered)
        if not suggestion:
            raise
        raise ModelLoadError(f"{exc} {suggestion}") from None
    if kind == "hub" and is_local_name(stored) and stored not in registered:
        base = models_root.resolve()
        suggestion = _closest_models(source, models_root, registered)
        raise ModelLoadError(
            f"{field} {source[:200]!r} is not a model folder under {MODELS_ENV} ({base}) "
            f"nor a Hub id registered in this project. {suggestion + ' ' if suggestion else ''}"
            "Copy the save_pretrained "
            f"folder into {MODELS_ENV}, or give the Hub model as 'org/name' (or register it "
            f"in this project's models first). The rule: {NAMING_RULE}."
        )
    return stored


def registered_hub_ids(session: Session, project_id: int) -> set[str]:
    return repo.hub_sources(session, project_id)


def recheck_saved_model(
    data: Mapping[str, Any], models_root: Path, *, registered: Collection[str], saved_as: str
) -> None:
    """Refuse (ConfigError, 422 naming model_flavour) a saved config whose model can no longer
    be used: its folder was removed or renamed since, it left the models root, or it was saved
    before bare names were checked. Cloning or queueing it would only fail later, on an agent."""
    source = str(data.get("model_flavour", ""))
    try:
        resolve_model_flavour(source, models_root, registered=registered)
    except (ModelLoadError, ConfigError, PathOutsideRootError) as exc:
        message = (
            f"{saved_as} names a model that cannot be used now: {exc} Save a new version of "
            "the config naming an existing model, then use that version."
        )
        raise ConfigError(message, [{"field": "model_flavour", "message": message}]) from None


def _duplicate(name: str) -> ConflictError:
    return ConflictError(f"this project already has a model named {name!r}; choose another name")


def get_model(session: Session, model_id: int) -> ModelEntry:
    entry = repo.get(session, model_id)
    if entry is None:
        raise NotFoundError(f"model {model_id} does not exist; list the project's models")
    return entry


def create_model(
    session: Session,
    state: AppState,
    project_id: int,
    *,
    name: str,
    source: str,
    access_token: str | None,
    kind: str | None = None,
) -> ModelEntry:
    get_project(session, project_id)
    stored, kind = resolve_registry_source(
        source,
        state.settings.models_root,
        kind=kind,
        registered=registered_hub_ids(session, project_id),
    )
    if repo.get_by_name(session, project_id, name) is not None:
        raise _duplicate(name)
    token = state.secrets.encrypt(access_token) if access_token is not None else None
    try:
        return repo.add(
            session,
            project_id=project_id,
            name=name,
            source=stored,
            kind=kind,
            token_encrypted=token,
        )
    except IntegrityError:
        raise _duplicate(name) from None


def list_models(
    session: Session,
    project_id: int,
    *,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[ModelEntry], int]:
    get_project(session, project_id)
    return repo.list_page(
        session,
        project_id=project_id,
        q=q,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def update_model(
    session: Session,
    state: AppState,
    model_id: int,
    *,
    name: str | None = None,
    source: str | None = None,
    update_token: bool = False,
    access_token: str | None = None,
    kind: str | None = None,
) -> ModelEntry:
    """Change what is given. The token changes only when `update_token` is true: to the new
    value, or cleared when `access_token` is None. `kind` says what a new `source` is meant to
    be (see `resolve_registry_source`); without a source it is refused."""
    entry = get_model(session, model_id)
    if kind is not None and source is None:
        message = "kind applies to a new source: give the source with it"
        raise ConfigError(message, fields=[{"field": "kind", "message": message}])
    if source is not None:
        registered = registered_hub_ids(session, entry.project_id) - {entry.source}
        entry.source, entry.kind = resolve_registry_source(
            source, state.settings.models_root, kind=kind, registered=registered
        )
    if name is not None and name != entry.name:
        if repo.get_by_name(session, entry.project_id, name) is not None:
            raise _duplicate(name)
        entry.name = name
    if update_token:
        entry.token_encrypted = (
            state.secrets.encrypt(access_token) if access_token is not None else None
        )
    try:
        session.flush()
    except IntegrityError:
        raise _duplicate(name or entry.name) from None
    return entry


def delete_model(session: Session, model_id: int) -> None:
    get_model(session, model_id)
    repo.remove(session, model_id)
