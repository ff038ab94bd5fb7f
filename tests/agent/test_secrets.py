"""S14: secrets in the agent's environment never reach the trainer's environment, and no secret
value reaches stored or streamed logs, even from a trainer that prints its whole environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.agent.platform import Platform
from visionyard import runqueue
from visionyard.agent.supervisor import SupervisionOptions
from visionyard.db.models import ModelEntry, RunState
from visionyard.secretbox import SecretBox, load_or_create_key

SECRET_KEY = "dashboard-secret-key-value-123"
HF_TOKEN = "hf_registry_token_abcdef123456"
AGENT_SECRETS = {
    "VISIONYARD_SECRET_KEY": SECRET_KEY,
    "VISIONYARD_ADMIN_PASSWORD": "admin-password-value-456",
    "VISIONYARD_ADMIN_TOKEN": "vy_admin_token_value_789",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-value-000",
    "PGPASSWORD": "pg-password-value-111",
}


def register_model_token(p: Platform) -> None:
    box = SecretBox(load_or_create_key(p.data_dir, SECRET_KEY))
    with Session(p.engine) as session, session.begin():
        session.add(
            ModelEntry(
                project_id=p.project_id,
                name="tiny",
                source=str((p.models / "tiny-resnet").resolve()),
                kind="local",
                token_encrypted=box.encrypt(HF_TOKEN),
            )
        )


def stored_text(p: Platform, run_id: int) -> str:
    rows = [str(e.payload) + str(e.name) for e in p.events(run_id)]
    files = [
        f.read_text(errors="replace")
        for f in (p.runs / f"{run_id}-run").rglob("*")
        if f.is_file() and f.suffix in (".log", ".jsonl", ".json")
    ]
    return "\n".join(rows + files)


@pytest.mark.slow
def test_trainer_env_holds_no_dashboard_secrets_only_its_models_token(platform: Platform) -> None:
    p = platform
    register_model_token(p)
    run_id = p.enqueue(p.config(epochs=6))
    p.start_agent("a", **AGENT_SECRETS)
    trainer = p.wait_for("the trainer", lambda: p.trainers(run_id, 1))[0]
    env = trainer.environ()
    assert env.get("HF_TOKEN") == HF_TOKEN  # its model needs it
    leaked = [k for k, v in env.items() if any(s in v for s in AGENT_SECRETS.values())]
    assert not leaked
    assert not {"DASHBOARD_DB_URL", "VISIONYARD_AGENT_TOKEN"} & env.keys()
    assert p.wait_state(run_id, "succeeded", "failed").state == RunState.succeeded
    text = stored_text(p, run_id)
    assert HF_TOKEN not in text and not any(s in text for s in AGENT_SECRETS.values())


def test_a_trainer_printing_its_environment_leaks_nothing(platform: Platform) -> None:
    p = platform
    run_id = p.enqueue(p.config())
    agent_id = runqueue.register_agent(
        p.engine, name="inline", hostname="h", device="cpu", gpus=[], version="t"
    )
    claimed = runqueue.claim_next(p.engine, agent_id=agent_id, capacity=0, lease_seconds=30)
    assert claimed is not None and claimed.id == run_id
    agent_env = {"PATH": "/usr/bin:/bin", "DASHBOARD_DB_URL": p.url, **AGENT_SECRETS}
    printer = "import os\nfor k, v in sorted(os.environ.items()): print(f'{k}={v}')\n"
    launch, outcome = p.supervise_script(
        agent_id,
        claimed,
        printer,
        agent_env=agent_env,
        options=SupervisionOptions(lease_seconds=30, sample_interval=0.2),
        hf_token=HF_TOKEN,
    )
    assert outcome.kind == "succeeded"
    logs = [e.payload["message"] for e in p.events(run_id, "log")]
    assert "HF_TOKEN=[redacted]" in logs  # printed, and redacted before storage
    assert any(line.startswith("PATH=") for line in logs)
    text = stored_text(p, run_id)
    assert HF_TOKEN not in text
    assert not any(s in text for s in AGENT_SECRETS.values())
    assert p.url not in text
    assert Path(launch.output_path).read_text().count("[redacted]") == 1
