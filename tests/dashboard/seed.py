"""Rows written straight into a test app's database: a project with one resource of each kind,
users with roles in it, and tokens. For tests about who may reach what, not about creating
things (each resource's own tests create them through the API)."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from visionyard.dashboard.services import auth as auth_service
from visionyard.db.models import (
    ConfigVersion,
    Dataset,
    ExperimentGroup,
    ModelEntry,
    Project,
    ProjectMember,
    Run,
    RunState,
    TrainingConfig,
    User,
)

PASSWORD = "long-password-for-tests"


@dataclass(frozen=True)
class Seeded:
    """The ids of one project's resources, by the path parameter that names each."""

    project_id: int
    group_id: int
    model_id: int
    config_id: int
    run_id: int
    other_run_id: int

    def ids(self) -> dict[str, int]:
        return {
            "project_id": self.project_id,
            "group_id": self.group_id,
            "model_id": self.model_id,
            "config_id": self.config_id,
            "run_id": self.run_id,
        }


def project_with_one_of_each(
    app: FastAPI, name: str, members: dict[str, str] | None = None
) -> Seeded:
    """A project named `name` with a group, a model entry, a config (version 1) and two
    succeeded runs; `members`: username -> role of existing users."""
    with app.state.vy.sessions() as session, session.begin():
        project = Project(name=name, description="")
        session.add(project)
        session.flush()
        for username, role in (members or {}).items():
            user_id = session.query(User.id).filter(User.username == username).scalar()
            session.add(ProjectMember(project_id=project.id, user_id=user_id, role=role))
        group = ExperimentGroup(project_id=project.id, name="g")
        model = ModelEntry(project_id=project.id, name="m", source="org/model", kind="hub")
        config = TrainingConfig(project_id=project.id, name="c")
        session.add_all([group, model, config])
        session.flush()
        session.add(ConfigVersion(config_id=config.id, version=1, data={}, config_hash="0" * 64))
        run, other = (
            Run(
                project_id=project.id,
                name=run_name,
                config_snapshot={"epochs": 1},
                config_hash="0" * 64,
                state=RunState.succeeded,
            )
            for run_name in ("r", "r2")
        )
        session.add_all([run, other])
        session.flush()
        return Seeded(project.id, group.id, model.id, config.id, run.id, other.id)


def dataset(app: FastAPI, name: str = "d") -> int:
    with app.state.vy.sessions() as session, session.begin():
        row = Dataset(name=name, rel_path=name)
        session.add(row)
        session.flush()
        return row.id


def user(app: FastAPI, username: str, *, admin: bool = False) -> int:
    with app.state.vy.sessions() as session, session.begin():
        return auth_service.create_user(session, username, PASSWORD, is_admin=admin).id


def token(
    app: FastAPI,
    username: str,
    *,
    scope: str = "write",
    kind: str = "user",
    project_ids: list[int] | None = None,
    name: str | None = None,
) -> str:
    """A new API token of an existing user; its secret."""
    with app.state.vy.sessions() as session, session.begin():
        owner = session.query(User).filter(User.username == username).one()
        _, secret = auth_service.create_token(
            session, owner, name or f"{scope}-{kind}", kind=kind, scope=scope,
            project_ids=project_ids,
        )  # fmt: skip
        return secret
