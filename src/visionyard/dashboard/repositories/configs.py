"""SQL for training configs and their immutable versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import page, project_named_page
from visionyard.db.models import ConfigVersion, ModelEntry, Project, Run, TrainingConfig

SORT_COLUMNS = {"name": TrainingConfig.name, "created_at": TrainingConfig.created_at}


def project_exists(session: Session, project_id: int) -> bool:
    return session.scalar(select(Project.id).where(Project.id == project_id)) is not None


def get(session: Session, config_id: int, *, for_update: bool = False) -> TrainingConfig | None:
    query = select(TrainingConfig).where(TrainingConfig.id == config_id)
    if for_update:
        # PostgreSQL: two concurrent saves of one config queue here instead of both computing
        # the same next version number (the unique constraint would then fail one of them).
        query = query.with_for_update()
    return session.scalar(query)


def get_by_name(session: Session, project_id: int, name: str) -> TrainingConfig | None:
    return session.scalar(
        select(TrainingConfig).where(
            TrainingConfig.project_id == project_id, TrainingConfig.name == name
        )
    )


def add_config(session: Session, *, project_id: int, name: str) -> TrainingConfig:
    config = TrainingConfig(project_id=project_id, name=name, latest_version=0)
    session.add(config)
    session.flush()
    return config


def add_version(
    session: Session,
    config: TrainingConfig,
    *,
    data: dict[str, Any],
    config_hash: str,
    message: str,
    created_by: int | None,
) -> ConfigVersion:
    """Append version latest+1 and move the config's pointer to it (one flush)."""
    version = ConfigVersion(
        config_id=config.id,
        version=config.latest_version + 1,
        data=data,
        config_hash=config_hash,
        message=message,
        created_by=created_by,
    )
    session.add(version)
    config.latest_version = version.version
    session.flush()
    return version


def get_version(session: Session, config_id: int, version: int) -> ConfigVersion | None:
    return session.scalar(
        select(ConfigVersion).where(
            ConfigVersion.config_id == config_id, ConfigVersion.version == version
        )
    )


def all_versions(session: Session, config_id: int) -> Sequence[ConfigVersion]:
    """All versions of a config, oldest first."""
    return session.scalars(
        select(ConfigVersion)
        .where(ConfigVersion.config_id == config_id)
        .order_by(ConfigVersion.version)
    ).all()


def versions_page(
    session: Session, config_id: int, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[ConfigVersion], int]:
    return page(
        session,
        select(ConfigVersion).where(ConfigVersion.config_id == config_id),
        sort_column=ConfigVersion.version,
        id_column=ConfigVersion.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def list_page(
    session: Session,
    *,
    project_id: int,
    q: str | None,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[Sequence[TrainingConfig], int]:
    return project_named_page(
        session,
        TrainingConfig,
        project_id=project_id,
        q=q,
        sort_column=SORT_COLUMNS[sort],
        descending=descending,
        limit=limit,
        offset=offset,
    )


def list_stats(session: Session, config_ids: Sequence[int]) -> dict[int, tuple[Any, int]]:
    """config id -> (when its latest version was saved, how many runs its versions have), for
    one page of configs: two grouped queries, not two per config."""
    if not config_ids:
        return {}
    saved = dict(
        session.execute(
            select(ConfigVersion.config_id, func.max(ConfigVersion.created_at))
            .where(ConfigVersion.config_id.in_(config_ids))
            .group_by(ConfigVersion.config_id)
        ).all()
    )
    runs = dict(
        session.execute(
            select(ConfigVersion.config_id, func.count(Run.id))
            .join(Run, Run.config_version_id == ConfigVersion.id)
            .where(ConfigVersion.config_id.in_(config_ids))
            .group_by(ConfigVersion.config_id)
        ).all()
    )
    return {cid: (saved.get(cid), int(runs.get(cid, 0))) for cid in config_ids}


def remove(session: Session, config_id: int) -> None:
    # A bulk DELETE: the database cascades to the versions and sets runs.config_version_id to
    # NULL (ON DELETE SET NULL), so runs keep their snapshot and lose only the link.
    session.execute(delete(TrainingConfig).where(TrainingConfig.id == config_id))


# ---- choices for the config form (GET /options) ----------------------------------------------


def project_models(session: Session, project_id: int, *, limit: int) -> Sequence[ModelEntry]:
    return session.scalars(
        select(ModelEntry)
        .where(ModelEntry.project_id == project_id)
        .order_by(ModelEntry.name)
        .limit(limit)
    ).all()
