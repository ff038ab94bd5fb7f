"""Who belongs to a project, with which role; a project always keeps an owner."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.db.models import ProjectMember, ProjectRole, User
from visionyard.errors import ConflictError, NotFoundError


def list_members(session: Session, project_id: int) -> list[tuple[ProjectMember, str]]:
    """(member, username), owners first, then by name."""
    rows = session.execute(
        select(ProjectMember, User.username)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project_id)
        .order_by(User.username)
    ).all()
    found = [(member, username) for member, username in rows]
    return sorted(found, key=lambda pair: -ProjectRole[pair[0].role])


def _other_owners(session: Session, project_id: int, user_id: int) -> list[int]:
    """Locked till the end of the transaction (PostgreSQL): two owners stepping down at once
    cannot both succeed."""
    query = (
        select(ProjectMember.user_id)
        .where(
            ProjectMember.project_id == project_id,
            ProjectMember.role == ProjectRole.owner.name,
            ProjectMember.user_id != user_id,
        )
        .with_for_update()
    )
    return list(session.scalars(query))


def _keep_an_owner(session: Session, project_id: int, member: ProjectMember, change: str) -> None:
    if member.role == ProjectRole.owner.name and not _other_owners(
        session, project_id, member.user_id
    ):
        raise ConflictError(
            f"this is the project's only owner and cannot be {change}: nobody could manage "
            "its members afterwards. Make another member an owner first."
        )


def set_member(
    session: Session, project_id: int, username: str, role: ProjectRole
) -> tuple[ProjectMember, str]:
    """Add `username` to the project with `role`, or change the role of a member."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or user.disabled:
        raise NotFoundError(
            f"no user {username!r} can log in; an admin creates users (POST /api/v1/users)"
        )
    member = session.get(ProjectMember, (project_id, user.id))
    if member is None:
        member = ProjectMember(project_id=project_id, user_id=user.id, role=role.name)
        session.add(member)
    elif member.role != role.name:
        if role < ProjectRole.owner:
            _keep_an_owner(session, project_id, member, f"made a {role.name}")
        member.role = role.name
    session.flush()
    return member, user.username


def remove_member(session: Session, project_id: int, user_id: int) -> None:
    member = session.get(ProjectMember, (project_id, user_id))
    if member is None:
        raise NotFoundError(
            f"user {user_id} is not a member of project {project_id}; list its members"
        )
    _keep_an_owner(session, project_id, member, "removed")
    session.delete(member)
