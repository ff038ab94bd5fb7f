"""The whole platform with real processes: a dashboard (uvicorn) and an agent, driven only
through the public API and WebSocket, as a user would. Includes R14: the dashboard restarts in
the middle of the run and nothing is lost."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.agent.dashboard import Dashboard
from tests.agent.platform import Platform
from visionyard.runqueue.feed import run_topic


class LiveMetrics(threading.Thread):
    """Collects one run's WebSocket events (with a user's token, as `?token=`)."""

    def __init__(self, url: str, token: str, run_id: int) -> None:
        super().__init__(daemon=True)
        self.url = url.replace("http", "ws") + f"/api/v1/ws?token={token}"
        self.run_id = run_id
        self.events: list[dict[str, Any]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with connect(self.url, open_timeout=10) as ws:
            ws.send(json.dumps({"op": "subscribe", "topic": run_topic(self.run_id), "after": None}))
            while not self.stop.is_set():
                try:
                    message = json.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                if message.get("type") == "event":
                    message["received"] = time.time()
                    self.events.append(message)


@pytest.mark.slow
def test_queue_train_watch_and_survive_a_dashboard_restart(platform: Platform) -> None:
    p = platform
    dashboard = Dashboard(p)
    dashboard.start()
    try:
        api = dashboard.client()
        project = api.post("/projects", json={"name": "e2e"}).json()
        dataset = api.post("/datasets", json={"name": "digits", "path": "digits"})
        assert dataset.status_code == 201, dataset.text
        config = api.post(
            f"/projects/{project['id']}/configs",
            json={"name": "tiny", "data": p.config(root="digits", epochs=10)},
        )
        assert config.status_code == 201, config.text
        run = api.post(f"/configs/{config.json()['id']}/runs", json={"gpu_count": 0})
        assert run.status_code == 201, run.text
        run_id = run.json()["id"]
        assert run.json()["waiting_for"].startswith("no agent is online")  # none started yet

        live = LiveMetrics(dashboard.url, p.api_token, run_id)
        live.start()
        p.start_agent("e2e")
        p.wait_for(
            "live metrics over the WebSocket",
            lambda: any(e["data"]["kind"] == "metrics" for e in live.events),
            timeout=90,
        )
        live.stop.set()
        live.join(5)
        state = api.get(f"/runs/{run_id}").json()["state"]
        assert state == "running"  # they arrived while it trained
        assert api.get(f"/runs/{run_id}").json()["waiting_for"] is None

        # R14: the dashboard dies mid-run and comes back; the agent does not depend on it.
        api.close()
        dashboard.kill()
        time.sleep(2)
        dashboard.start()
        api = dashboard.client()
        p.wait_for(
            "the run to finish",
            lambda: api.get(f"/runs/{run_id}").json()["state"] in ("succeeded", "failed"),
            timeout=240,
        )
        detail = api.get(f"/runs/{run_id}").json()
        assert detail["state"] == "succeeded", detail
        assert detail["attempt"] == 1 and detail["restarts"] == 0  # never interrupted

        names = api.get(f"/runs/{run_id}/metrics").json()["names"]
        for expected in ("train/step_loss", "val/acc@1", "system/cpu_percent", "test/acc@1"):
            assert expected in names, (expected, names)
        series = api.get(
            f"/runs/{run_id}/metrics/series",
            params={"names": "train/step_loss", "max_points": 10000},
        ).json()["series"][0]
        steps = series["steps"]
        # Nothing lost across the restart: every optimizer step's loss is there, once.
        assert steps == list(range(steps[0], steps[0] + len(steps)))
        logs = api.get(f"/runs/{run_id}/logs", params={"tail": 1000}).json()
        assert any("epoch 10/10" in line["message"] for line in logs["items"]), logs["items"][-5:]
        checkpoints = api.get(f"/runs/{run_id}/checkpoints", params={"limit": 200}).json()
        assert {c["name"] for c in checkpoints["items"]} >= {"last", "best"}
        results = api.get(f"/runs/{run_id}/results").json()
        assert results["test"]["scalars"]["acc@1"] > 0.3
        files = api.get(f"/runs/{run_id}/files", params={"path": "model"}).json()
        assert "model.safetensors" in {e["name"] for e in files["entries"]}
        progress = detail.get("progress") or {}
        assert progress.get("epoch") == 10 or progress.get("epochs") == 10, progress
        api.close()
    finally:
        dashboard.stop()

    # The exported model is a real Hugging Face folder.
    from transformers import pipeline

    model_dir = p.runs / f"{run_id}-{run.json()['name']}" / "model"
    classify = pipeline("image-classification", model=str(model_dir))
    image = next((p.datasets / "digits" / "test" / "3").iterdir())
    labels = {r["label"] for r in classify(str(image))}
    assert labels <= {str(i) for i in range(10)}
    assert Path(model_dir / "config.json").is_file()
