"""Real data for the run page's browser tests: a dashboard with a run trained by the training core
(tiny model, digits, on the CPU: conftest's `trained_run`) imported as a finished run, and a
queued run that the tests claim and feed with events through the run queue, as an agent does."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.client.helpers import claim
from tests.dbutil import fresh_sqlite_database
from tests.liveserver import admin_api, serving
from tests.web_ui.conftest import tar_run
from visionyard import runqueue
from visionyard.db.engine import make_engine
from visionyard.settings import Settings, load_settings


@dataclass
class RunPageData:
    url: str
    settings: Settings
    project_id: int
    #: a run trained for real, imported: metrics, logs, results, checkpoints, files
    finished_run: int
    finished_dir: Path

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with admin_api(self.url) as client:
            return client.request(method, path, **kwargs)

    def queue_run(self, **body: Any) -> dict:
        """A queued CPU run of a fresh config (the digits dataset, the tiny model)."""
        config = self.api(
            "POST",
            f"/projects/{self.project_id}/configs",
            json={
                "name": f"c-{uuid.uuid4().hex[:8]}",
                "data": {
                    "root": "digits",
                    "model_flavour": str(self.settings.models_root / "tiny-resnet"),
                    "epochs": 1,
                    "batch_size": 8,
                },
            },
        )
        assert config.status_code == 201, config.text
        run = self.api(
            "POST", f"/configs/{config.json()['id']}/runs", json={"gpu_count": 0, **body}
        )
        assert run.status_code == 201, run.text
        return run.json()

    def claim(self, run_id: int) -> tuple[int, int]:
        """Claim `run_id` as a fresh CPU agent would; (agent id, attempt)."""
        engine = make_engine(self.settings.database_url)
        try:
            return claim(engine, run_id)
        finally:
            engine.dispose()

    def write_events(self, run_id: int, attempt: int, events: list[dict]) -> None:
        """Store events as the agent relays them (the dashboard pushes them to the browser)."""
        engine = make_engine(self.settings.database_url)
        try:
            runqueue.write_events(engine, run_id, attempt, events)
        finally:
            engine.dispose()


@contextmanager
def run_page_data(
    base: Path, run_dir: Path, digits_root: Path, tiny_resnet: Path, web_ui_dir: Path
) -> Iterator[RunPageData]:
    """Serve the real build on a fresh SQLite platform holding `run_dir` (a really trained run),
    imported."""
    with fresh_sqlite_database(base / "db") as db_url:
        settings = load_settings(
            data_dir=base / "data",
            datasets_dir=base / "datasets",
            runs_dir=base / "runs",
            models_dir=base / "models",
            db_url=db_url,
            web_ui_dir=web_ui_dir,
            events_poll_interval=0.1,
        )
        shutil.copytree(digits_root, settings.datasets_root / "digits")
        shutil.copytree(tiny_resnet, settings.models_root / "tiny-resnet")
        with serving(settings, base / "serve.log") as url:
            data = RunPageData(
                url=url,
                settings=settings,
                project_id=0,
                finished_run=0,
                finished_dir=run_dir,
            )
            project = data.api("POST", "/projects", json={"name": "digits"})
            assert project.status_code == 201, project.text
            data.project_id = project.json()["id"]
            imported = data.api(
                "POST",
                f"/projects/{data.project_id}/runs/import",
                content=tar_run(run_dir),
                headers={"Content-Type": "application/octet-stream"},
            )
            assert imported.status_code == 201, imported.text
            data.finished_run = imported.json()["run"]["id"]
            _train_on_the_dashboards_copy(data, imported.json()["run"]["run_dir"])
            yield data


def _train_on_the_dashboards_copy(data: RunPageData, run_dir: str) -> None:
    """Point the imported run's config at the dashboard's copy of the digits (the same files it
    was trained on), as if an agent had trained it there: evaluation reports read the dataset,
    and the dashboard reads datasets inside its datasets root only."""
    folder = Path(run_dir)
    if not folder.is_absolute():
        folder = data.settings.runs_root / folder
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config["root"] = str(data.settings.datasets_root / "digits")
    config_path.write_text(json.dumps(config, indent=2))
