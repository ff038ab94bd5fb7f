"""A project's members and their roles: everyone in the project reads the list; owners change
it."""

from __future__ import annotations

from fastapi import APIRouter, status

from visionyard.dashboard.access import ProjectOwner, ProjectViewer
from visionyard.dashboard.deps import SessionDep
from visionyard.dashboard.schemas.common import IdPath
from visionyard.dashboard.schemas.members import MemberList, MemberOut, MemberSet
from visionyard.dashboard.services import members as service
from visionyard.db.models import ProjectMember, ProjectRole

router = APIRouter(tags=["projects"])


def _out(member: ProjectMember, username: str) -> MemberOut:
    return MemberOut(
        user_id=member.user_id,
        username=username,
        role=member.role,
        created_at=member.created_at,
    )


@router.get(
    "/projects/{project_id}/members", operation_id="listProjectMembers", response_model=MemberList
)
def list_members(project_id: IdPath, _access: ProjectViewer, session: SessionDep) -> MemberList:
    return MemberList(
        items=[_out(m, name) for m, name in service.list_members(session, project_id)]
    )


@router.put(
    "/projects/{project_id}/members", operation_id="setProjectMember", response_model=MemberOut
)
def set_member(
    project_id: IdPath, body: MemberSet, _access: ProjectOwner, session: SessionDep
) -> MemberOut:
    """Add a user to the project with a role, or change a member's role. The last owner can
    not step down (409)."""
    member, username = service.set_member(
        session, project_id, body.username, ProjectRole[body.role]
    )
    return _out(member, username)


@router.delete(
    "/projects/{project_id}/members/{user_id}",
    operation_id="removeProjectMember",
    status_code=status.HTTP_204_NO_CONTENT,
)
def remove_member(
    project_id: IdPath, user_id: IdPath, _access: ProjectOwner, session: SessionDep
) -> None:
    """The last owner cannot be removed (409)."""
    service.remove_member(session, project_id, user_id)
