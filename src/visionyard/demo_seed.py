"""`visionyard up --demo`: put the bundled demo on a running platform through its public API, as
a user would: the digits dataset and a tiny model in the shared storage, a "demo" project, a
config, and a queued run."""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from visionyard.settings import Settings
from visionyard.training.demo import write_digits_dataset, write_tiny_model
from visionyard.training.demo_config import demo_config

TERMINAL = ("succeeded", "failed", "canceled")


class ApiError(RuntimeError):
    pass


class ApiClient:
    """A minimal JSON client with a cookie session (standard library only)."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self._cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self._cookies)
        )

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        # Changes made with the session cookie must carry the session's CSRF token.
        csrf = next((c.value for c in self._cookies if c.name == "vy_csrf"), None)
        if csrf:
            headers["X-CSRF-Token"] = csrf
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers
        )
        try:
            with self._opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def expect(
        self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)
    ) -> Any:
        status, payload = self.call(method, path, body)
        if status not in ok:
            raise ApiError(f"{method} {path} -> {status}: {payload}")
        return payload


def _find(client: ApiClient, path: str, name: str) -> dict[str, Any] | None:
    page = client.expect("GET", f"{path}?q={name}&limit=100")
    return next((item for item in page["items"] if item["name"] == name), None)


@dataclass(frozen=True)
class DemoRun:
    id: int
    state: str
    #: False when an earlier start of the demo already queued this run (nothing new was queued)
    queued_now: bool


def seed_demo(base_url: str, settings: Settings, password: str, *, gpu_count: int) -> DemoRun:
    """Queues the demo run, or returns the earlier one if the demo project already has one."""
    dataset_dir = settings.datasets_root / "digits"
    model_dir = settings.models_root / "tiny-resnet"
    write_digits_dataset(dataset_dir)
    write_tiny_model(model_dir, arch="resnet")
    client = ApiClient(base_url)
    client.expect("POST", "/auth/login", {"username": "admin", "password": password})
    project = _find(client, "/projects", "demo") or client.expect(
        "POST", "/projects", {"name": "demo", "description": "The bundled digits demo"}
    )
    # Restarting the demo must not queue one more demo run each time: the
    # newest run named "demo" (run lists are newest first) is reported, whatever its state.
    earlier = _find(client, f"/projects/{project['id']}/runs", "demo")
    if earlier is not None:
        return DemoRun(int(earlier["id"]), str(earlier["state"]), queued_now=False)
    if _find(client, "/datasets", "digits") is None:
        client.expect("POST", "/datasets", {"name": "digits", "path": "digits"})
    data = demo_config(dataset_dir, model_dir, settings.runs_root)
    data.pop("output_dir")  # placement belongs to the agent
    data["root"] = "digits"
    configs = f"/projects/{project['id']}/configs"
    config = _find(client, configs, "digits-resnet") or client.expect(
        "POST", configs, {"name": "digits-resnet", "data": data, "message": "demo"}
    )
    run = client.expect(
        "POST",
        f"/configs/{config['id']}/runs",
        {"name": "demo", "gpu_count": gpu_count, "max_restarts": 2},
    )
    return DemoRun(int(run["id"]), str(run["state"]), queued_now=True)


def wait_for_run(
    base_url: str, password: str, run_id: int, timeout: float = 1800
) -> dict[str, Any]:
    client = ApiClient(base_url)
    client.expect("POST", "/auth/login", {"username": "admin", "password": password})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.expect("GET", f"/runs/{run_id}")
        if run["state"] in TERMINAL:
            return run
        time.sleep(1.0)
    raise ApiError(f"run {run_id} did not finish within {timeout:.0f} s")


def run_results(base_url: str, password: str, run_id: int) -> dict[str, Any]:
    client = ApiClient(base_url)
    client.expect("POST", "/auth/login", {"username": "admin", "password": password})
    results: dict[str, Any] = client.expect("GET", f"/runs/{run_id}/results")
    return results
