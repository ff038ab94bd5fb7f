"""SQL for users, login sessions and API tokens."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from visionyard.dashboard.repositories import page
from visionyard.db.models import ApiToken, LoginSession, Project, ProjectMember, User


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def other_active_admins(session: Session, user_id: int) -> list[int]:
    """The ids of the admins other than `user_id` who can log in, locked until the end of the
    transaction (PostgreSQL), so two admins demoting each other at once cannot both succeed."""
    query = (
        select(User.id)
        .where(User.is_admin.is_(True), User.disabled.is_(False), User.id != user_id)
        .with_for_update()
    )
    return list(session.scalars(query))


def user_named(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def users_page(
    session: Session, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    return page(
        session,
        select(User),
        sort_column=User.id,
        id_column=User.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def add(session: Session, row: User | ApiToken | LoginSession) -> None:
    session.add(row)
    session.flush()


def get_token(session: Session, token_id: int) -> ApiToken | None:
    return session.get(ApiToken, token_id)


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


def tokens_page(
    session: Session, user_id: int, *, descending: bool, limit: int, offset: int
) -> tuple[Sequence[ApiToken], int]:
    return page(
        session,
        select(ApiToken).where(ApiToken.user_id == user_id),
        sort_column=ApiToken.id,
        id_column=ApiToken.id,
        descending=descending,
        limit=limit,
        offset=offset,
    )


def existing_projects(session: Session, project_ids: list[int]) -> set[int]:
    return set(session.scalars(select(Project.id).where(Project.id.in_(project_ids))))


def projects_with_member(session: Session, user_id: int, project_ids: list[int]) -> set[int]:
    """Those of `project_ids` that `user_id` is a member of (any role)."""
    query = select(ProjectMember.project_id).where(
        ProjectMember.user_id == user_id, ProjectMember.project_id.in_(project_ids)
    )
    return set(session.scalars(query))
