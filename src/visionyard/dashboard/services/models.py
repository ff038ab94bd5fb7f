"""Model registry: Hugging Face hub ids or local save_pretrained folders under
VISIONYARD_MODELS_DIR, per project, with an optional access token that is stored encrypted and
never returned."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import models as repo
from visionyard.dashboard.services.projects import get_project
from visionyard.dashboard.state import AppState
from visionyard.db.models import ModelEntry
from visionyard.errors import ConfigError, ConflictError, ModelLoadError, NotFoundError
from visionyard.modelsource import is_hub_id
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
    return str(folder), "local"


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
) -> ModelEntry:
    get_project(session, project_id)
    stored, kind = resolve_source(source, state.settings.models_root)
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
) -> ModelEntry:
    """Change what is given. The token changes only when `update_token` is true: to the new
    value, or cleared when `access_token` is None."""
    entry = get_model(session, model_id)
    if source is not None:
        entry.source, entry.kind = resolve_source(source, state.settings.models_root)
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
