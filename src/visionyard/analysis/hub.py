"""Pushing an export bundle to the Hugging Face Hub.

The Hub repository gets the bundle's ``model/`` folder at its root (so
``from_pretrained("<repo_id>")`` and the Hub's widget work), ``model.onnx`` and
``onnx_validation.json`` under ``onnx/``, and ``bundle.json``, in one commit.
``train_config.json`` stays local: it holds the machine's paths. A repository that does not exist
yet is created private.

The token comes from ``HF_TOKEN`` or the one ``hf auth login`` stored. The Hub is asked who the
token belongs to before anything is built, so a missing or refused token, or a Hub that cannot be
reached, fails in seconds rather than after the export.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from visionyard.errors import HubError, HubUnreachableError
from visionyard.modelsource import is_hub_id

_HUB_LAYOUT = {"model.onnx": "onnx/model.onnx", "onnx_validation.json": "onnx/onnx_validation.json"}
_LOCAL_ONLY = {"train_config.json"}


def hub_token() -> str | None:
    from huggingface_hub import get_token

    return os.environ.get("HF_TOKEN") or get_token()


def _endpoint() -> str:
    from huggingface_hub import constants

    return str(constants.ENDPOINT)


def _hub_failure(exc: Exception, repo_id: str) -> HubError:
    """The VisionyardError for what huggingface_hub raised."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return HubUnreachableError(
            "cannot push to the Hugging Face Hub: offline mode is on (HF_HUB_OFFLINE=1); unset "
            "HF_HUB_OFFLINE on a machine that can reach the Hub and push again"
        )
    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 401:
            return HubError(
                "the Hugging Face Hub refused the token (401); set HF_TOKEN to a valid write "
                "token from https://huggingface.co/settings/tokens"
            )
        if status == 403:
            return HubError(
                f"the token may not write to {repo_id!r} (403); use a write token of that "
                "user or organisation, or push to a repository of your own"
            )
        return HubError(f"the Hugging Face Hub answered {status} for {repo_id!r}: {exc}")
    return HubUnreachableError(
        f"cannot reach the Hugging Face Hub at {_endpoint()} ({type(exc).__name__}: "
        f"{str(exc) or 'no details'}); check the network (and HF_ENDPOINT if set), then push again"
    )


def _hub_call(repo_id: str, call: Any, *args: Any, **kwargs: Any) -> Any:
    # huggingface_hub 2 talks through httpx2: connection refused, DNS failures and timeouts
    # derive from its HTTPError, which is not an OSError.
    from httpx2 import HTTPError as TransportError

    try:
        return call(*args, **kwargs)
    except (OSError, TransportError) as exc:  # HfHubHTTPError and offline mode are OSErrors
        raise _hub_failure(exc, repo_id) from None


def check_hub_access(repo_id: str) -> str:
    """The token to push `repo_id` with, once the Hub has accepted it; HubError otherwise."""
    from huggingface_hub import HfApi

    if not is_hub_id(repo_id):
        raise HubError(f"{repo_id!r} is not a Hub repository id; write it as 'user/name'")
    token = hub_token()
    if not token:
        raise HubError(
            "no Hugging Face token: set HF_TOKEN to a write token from "
            "https://huggingface.co/settings/tokens (or run `hf auth login`), then push again"
        )
    _hub_call(repo_id, HfApi().whoami, token=token)
    return token


def push_bundle(folder: Path, repo_id: str, token: str) -> str:
    """Upload the bundle `folder` to `repo_id` in one commit; the commit's URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(token=token)
    operations = []
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or rel in _LOCAL_ONLY:
            continue
        target = (
            rel.removeprefix("model/") if rel.startswith("model/") else _HUB_LAYOUT.get(rel, rel)
        )
        operations.append(CommitOperationAdd(path_in_repo=target, path_or_fileobj=str(path)))
    _hub_call(repo_id, api.create_repo, repo_id, private=True, exist_ok=True)
    commit = _hub_call(
        repo_id,
        api.create_commit,
        repo_id,
        operations=operations,
        commit_message=f"Visionyard export {Path(folder).name}",
    )
    return str(getattr(commit, "commit_url", f"{_endpoint()}/{repo_id}"))
