"""A project named on the command line by its id or by its name."""

from __future__ import annotations

from visionyard.client.api import Api
from visionyard.client.errors import ClientError


def project_id(api: Api, project: str) -> int:
    """The id of `project` (an id, or an exact project name); ClientError when there is none."""
    text = project.strip()
    if text.isdigit():
        api.get(f"/projects/{int(text)}")  # 404 with the API's message when it does not exist
        return int(text)
    matches = [p for p in api.pages("/projects", q=text) if p.get("name") == text]
    if not matches:
        raise ClientError(
            f"no project is named {text!r}; list them with GET /api/v1/projects, or give the "
            "project's id"
        )
    return int(matches[0]["id"])
