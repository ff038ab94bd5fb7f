"""Model registry: Hugging Face hub ids or local save_pretrained folders, per project, with an
optional access token that is stored encrypted and never returned."""

from __future__ import annotations

import logging
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

log = logging.getLogger("visionyard.dashboard")

# The same pattern as visionyard.training.modeling.resolve_model_source (a test pins the two
# together); repeated here so the dashboard does not import torch to validate a string.
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?$")
# Characters a shell (or a careless f-string into one) would interpret; no real model id or
# sensible folder name needs them.
SHELL_META = frozenset(";|&$`<>(){}[]*?!'\"\\#~^")
#: the width of model_entries.source
MAX_SOURCE = 1024
URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _bad_source(source: str, why: str) -> ConfigError:
    message = (
        f"source {source[:200]!r} is refused: {why}. Give a Hugging Face model id like "
        "'google/vit-base-patch16-224' or the absolute path of a save_pretrained folder."
    )
    return ConfigError(message, fields=[{"field": "source", "message": message}])


def check_source_syntax(source: str) -> str:
    """Return the kind (`hub` | `local`) of `source`, or raise ConfigError naming `source`.

    Nothing here touches the file system: URLs, shell metacharacters, whitespace, control
    characters, `..` and relative paths are refused by their spelling alone.
    """
    if not source:
        raise _bad_source(source, "it is empty")
    if any(
        ord(ch) < 32 or ord(ch) == 127 or ch.isspace() or 0xD800 <= ord(ch) <= 0xDFFF
        for ch in source
    ):
        raise _bad_source(source, "it contains whitespace, control characters or surrogates")
    if URL_SCHEME.match(source) or "//" in source:
        raise _bad_source(source, "URLs are not model sources")
    bad = sorted(SHELL_META.intersection(source))
    if bad:
        raise _bad_source(source, f"it contains shell metacharacters {''.join(bad)!r}")
    if ".." in source:
        raise _bad_source(source, "'..' is not allowed")
    if source.startswith("/"):
        return "local"
    if source.startswith(".") or source.count("/") > 1:
        # Relative folders would depend on the working directory of whoever reads them.
        raise _bad_source(source, "relative folder paths are ambiguous; use an absolute path")
    if not HUB_ID.match(source):
        raise _bad_source(
            source,
            "it is not a valid Hugging Face model id (letters, digits, '-', '_', '.', at most "
            "one '/')",
        )
    return "hub"


def resolve_source(source: str) -> tuple[str, str]:
    """(stored source, kind): a hub id as given, or a local folder resolved to its real path
    after checking it holds config.json (ModelLoadError, HTTP 422, otherwise)."""
    kind = check_source_syntax(source)
    if kind == "hub":
        return source, kind
    folder = Path(source)
    try:
        if not folder.exists():
            raise ModelLoadError(
                f"source folder {source} does not exist on the dashboard's machine; give the "
                "absolute path of a save_pretrained folder (holding config.json)."
            )
        if not folder.is_dir():
            raise ModelLoadError(
                f"source {source} is a file; point it at a folder holding config.json and the "
                "weights (a save_pretrained folder)."
            )
        if not (folder / "config.json").is_file():
            raise ModelLoadError(
                f"source folder {source} has no config.json; it must be a Hugging Face "
                "save_pretrained folder."
            )
        resolved = str(folder.resolve())
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic-link loop (3.11)
        raise ModelLoadError(
            f"source folder {source} cannot be read ({getattr(exc, 'strerror', None) or exc}); "
            "check the path and "
            "its permissions."
        ) from None
    if len(resolved) > MAX_SOURCE:
        # links can make the real path longer than the one given
        raise ModelLoadError(
            f"source folder {source} resolves to {resolved[:200]}..., longer than {MAX_SOURCE} "
            "characters; use a folder with a shorter path."
        )
    return resolved, kind


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
    stored, kind = resolve_source(source)
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
        entry.source, entry.kind = resolve_source(source)
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


def decrypted_token(state: AppState, model_entry: ModelEntry) -> str | None:
    """The entry's access token in clear, for handing to a trainer; None when it has none or
    when it cannot be decrypted (the secret key changed: the token must be entered again)."""
    if model_entry.token_encrypted is None:
        return None
    token = state.secrets.decrypt(bytes(model_entry.token_encrypted))
    if token is None:
        log.warning(
            "the access token of model %s cannot be decrypted (was the secret key changed?); "
            "enter it again",
            model_entry.id,
        )
    return token
