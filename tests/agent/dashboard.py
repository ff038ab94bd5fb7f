"""A real dashboard (`visionyard serve` in a subprocess) for a test platform, and an API client
logged in as the platform's owner."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx

from tests.agent.platform import PASSWORD, Platform
from tests.liveserver import free_port


class Dashboard:
    def __init__(self, p: Platform) -> None:
        self.p = p
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.p.base / "dashboard.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "visionyard.cli", "serve", "--port", str(self.port)],
                env=self.p.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.p.wait_for("the dashboard", self._healthy, timeout=60)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    def client(self) -> httpx.Client:
        client = httpx.Client(base_url=f"{self.url}/api/v1", timeout=30)
        login = client.post("/auth/login", json={"username": "owner", "password": PASSWORD})
        login.raise_for_status()
        client.headers["X-CSRF-Token"] = login.cookies["vy_csrf"]
        return client
