"""Who may do what: the one place that decides, for every route and live topic.

Every route depends on exactly one `Rule` (through `PublicRoute`, `CurrentUser`, `AdminUser` or
one of the project dependencies made by `in_project`); `check_every_route_decides` refuses to
start an app with a route that has none, and the authorization matrix test reads the rules back.

The model:
- a project's members are viewers (read everything of it), editors (+ change configs, runs, tags,
  groups, models) or owners (+ members, rename, delete); admins act as owners of every project;
- a resource of a project the caller may not see is a 404 with the same message as a resource
  that does not exist, so ids cannot be probed; a member whose role is too low gets a 403;
- tokens: a read token never changes anything; a token with a project list sees only those
  projects; agent tokens serve agents (which talk to the database) and reach no route here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.dashboard.audit import Decided
from visionyard.dashboard.deps import StateDep, get_principal
from visionyard.dashboard.schemas.common import IdPath
from visionyard.dashboard.services.auth import Principal
from visionyard.dashboard.services.projects import project_not_found
from visionyard.dashboard.state import AppState
from visionyard.db.models import (
    ExperimentGroup,
    ModelEntry,
    Project,
    ProjectMember,
    ProjectRole,
    Run,
    TrainingConfig,
)
from visionyard.errors import AuthenticationError, NotFoundError, PermissionDeniedError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Level = Literal["public", "user", "admin", "project"]


@dataclass(frozen=True)
class Rule:
    """A route's access decision.

    `via` names the path parameter whose resource decides the project ("project_id", "run_id",
    "config_id", "group_id", "model_id"). `writes`: whether the route changes anything (read
    tokens are refused); by default, whether its method is unsafe.
    """

    level: Level
    role: ProjectRole | None = None
    via: str | None = None
    writes: bool | None = None


#: resource path parameter -> (the model, its noun in messages, how to find its id)
_OWNERS: dict[str, tuple[Any, str, str]] = {
    "run_id": (Run, "run", "list runs to find its id"),
    "config_id": (TrainingConfig, "config", "list a project's configs"),
    "group_id": (ExperimentGroup, "experiment group", "list the project's groups"),
    "model_id": (ModelEntry, "model", "list the project's models"),
}


def not_found(via: str, value: int) -> NotFoundError:
    """The 404 for a missing resource, and for one the caller may not see: the same words."""
    if via == "project_id":
        return project_not_found(value)
    _, noun, hint = _OWNERS[via]
    return NotFoundError(f"{noun} {value} does not exist; {hint}")


def project_of(session: Session, via: str, value: int) -> int | None:
    """The id of the project that owns the resource `via`=`value`, None if there is none."""
    if via == "project_id":
        return session.scalar(select(Project.id).where(Project.id == value))
    model = _OWNERS[via][0]
    return session.scalar(select(model.project_id).where(model.id == value))


# ---- roles -------------------------------------------------------------------------------------


def role_in(session: Session, principal: Principal, project_id: int) -> ProjectRole | None:
    """The principal's role in the project; None when the project is not theirs to see."""
    return roles_in(session, principal, [project_id]).get(project_id)


def roles_in(
    session: Session, principal: Principal, project_ids: Iterable[int]
) -> dict[int, ProjectRole]:
    """The principal's role in each of these projects it may see (one query)."""
    ids = [i for i in project_ids if principal.project_ids is None or i in principal.project_ids]
    if principal.is_admin:
        return dict.fromkeys(ids, ProjectRole.owner)
    rows = session.execute(
        select(ProjectMember.project_id, ProjectMember.role).where(
            ProjectMember.user_id == principal.user_id, ProjectMember.project_id.in_(ids)
        )
    )
    return {row.project_id: ProjectRole[row.role] for row in rows}


def visible_project_ids(session: Session, principal: Principal) -> frozenset[int] | None:
    """The projects the principal may see; None means every project (an unrestricted admin)."""
    if principal.is_admin:
        return principal.project_ids
    mine = session.scalars(
        select(ProjectMember.project_id).where(ProjectMember.user_id == principal.user_id)
    )
    ids = frozenset(mine)
    return ids if principal.project_ids is None else ids & principal.project_ids


# ---- checks ------------------------------------------------------------------------------------


def writes(rule: Rule, method: str) -> bool:
    return rule.writes if rule.writes is not None else method not in SAFE_METHODS


def _remember(request: Request, principal: Principal, rule: Rule, project_id: int | None) -> None:
    """For the audit trail (`visionyard.dashboard.audit`)."""
    request.state.decided = Decided(principal, writes(rule, request.method), project_id)


def check_principal(principal: Principal, rule: Rule, method: str) -> None:
    """What is decided before any resource is looked at: agent tokens and read tokens."""
    if principal.token_kind == "agent":
        raise PermissionDeniedError(
            "agent tokens only serve agents and reach no API route; use a user token "
            "(POST /api/v1/tokens) or log in"
        )
    if writes(rule, method) and principal.read_only:
        raise PermissionDeniedError(
            "this token is read-only and cannot change anything; use a write token"
        )
    if rule.level == "admin" and not principal.is_admin:
        raise PermissionDeniedError("this needs an admin account")


def require_role(
    session: Session, principal: Principal, project_id: int, need: ProjectRole, *, via: str,
    value: int,
) -> ProjectRole:  # fmt: skip
    role = role_in(session, principal, project_id)
    if role is None:
        raise not_found(via, value)
    if role < need:
        raise PermissionDeniedError(
            f"you are a {role.name} of project {project_id}; this needs {need.name} "
            "(a project owner can change your role)"
        )
    return role


@dataclass(frozen=True)
class ProjectAccess:
    """A caller allowed into a project: who, which project, with what role."""

    principal: Principal
    project_id: int
    role: ProjectRole

    @property
    def user_id(self) -> int:
        return self.principal.user_id


def in_project(
    role: ProjectRole, via: str, *, writes: bool | None = None
) -> Callable[..., ProjectAccess]:
    """A dependency admitting callers with at least `role` in the project of path parameter
    `via`. The parameter is declared on the dependency itself, so a malformed id is a 422 and
    the check never sees it."""
    rule = Rule("project", role, via, writes)

    def dependency(
        request: Request, principal: Principal, state: AppState, **path: int
    ) -> ProjectAccess:
        check_principal(principal, rule, request.method)
        value = path[via]
        # Its own short read: not the route's session, whose transaction (a write lock on
        # SQLite) would otherwise be held through slow uploads and inference.
        with state.read_sessions() as session:
            project_id = project_of(session, via, value)
            if project_id is None:
                raise not_found(via, value)
            granted = require_role(session, principal, project_id, role, via=via, value=value)
        _remember(request, principal, rule, project_id)
        return ProjectAccess(principal, project_id, granted)

    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter(
                "principal",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[Principal, Depends(get_principal)],
            ),
            inspect.Parameter("state", inspect.Parameter.KEYWORD_ONLY, annotation=StateDep),
            inspect.Parameter(via, inspect.Parameter.KEYWORD_ONLY, annotation=IdPath),
        ]
    )
    dependency.__name__ = f"{role.name}_of_{via}"
    return _decides(dependency, rule)


def _decides(dependency: Callable[..., Any], rule: Rule) -> Callable[..., Any]:
    dependency.access_rule = rule  # type: ignore[attr-defined]
    return dependency


def signed_in(
    *, level: Literal["user", "admin"], writes: bool | None = None
) -> Callable[..., Principal]:
    """A dependency admitting any signed-in user (level "user") or admins only."""
    rule = Rule(level, writes=writes)

    def dependency(
        request: Request, principal: Annotated[Principal, Depends(get_principal)]
    ) -> Principal:
        check_principal(principal, rule, request.method)
        _remember(request, principal, rule, None)
        return principal

    dependency.__name__ = f"signed_in_{level}"
    return _decides(dependency, rule)


def require_runs_visible(session: Session, principal: Principal, run_ids: Iterable[int]) -> None:
    """NotFoundError, as for a missing run, unless the principal may see every one of them."""
    ids = sorted(set(run_ids))
    rows = session.execute(select(Run.id, Run.project_id).where(Run.id.in_(ids)))
    projects = {row.id: row.project_id for row in rows}
    roles = roles_in(session, principal, set(projects.values()))
    for run_id in ids:
        if projects.get(run_id) not in roles:
            raise not_found("run_id", run_id)


def _tensorboard_viewer(
    request: Request, key: str, principal: Annotated[Principal, Depends(get_principal)],
    state: StateDep,
) -> Principal:  # fmt: skip
    from visionyard.dashboard.tensorboard.views import parse_key

    check_principal(principal, TENSORBOARD_RULE, request.method)
    run_ids = parse_key(key)
    with state.read_sessions() as session:
        require_runs_visible(session, principal, run_ids)
    return principal


#: TensorBoard's pages (`/tb/<run ids joined by +>/...`): a viewer of every run in the view;
#: TensorBoard's POSTs are queries, so read tokens may send them
TENSORBOARD_RULE = Rule("project", ProjectRole.viewer, "key (run ids)", writes=False)
TensorBoardViewer = Annotated[Principal, Depends(_decides(_tensorboard_viewer, TENSORBOARD_RULE))]


#: the WebSocket: any signed-in user; what each may receive is decided per topic (LiveAccess)
LIVE_EVENTS_RULE = Rule("user", writes=False)


class LiveAccess:
    """What one WebSocket client may see (`visionyard.dashboard.events.connection.Viewer`):
    `run:<id>` topics of runs in its projects, and on the "runs" topic only events about those
    runs. Credentials and memberships are re-read every ping interval."""

    def __init__(self, state: AppState, resolve: Callable[[], Principal]) -> None:
        self._state = state
        self._resolve = resolve
        self._visible: frozenset[int] | None = frozenset()
        self._principal: Principal | None = None

    def load(self) -> None:
        """Resolve the credentials (AuthenticationError if they are no good) and what they
        may see; blocking."""
        principal = self._resolve()
        check_principal(principal, LIVE_EVENTS_RULE, "GET")
        with self._state.read_sessions() as session:
            self._visible = visible_project_ids(session, principal)
        self._principal = principal

    async def refresh(self) -> bool:
        try:
            await run_in_threadpool(self.load)
        except AuthenticationError:
            return False
        return True

    async def may_read_run(self, run_id: int) -> bool:
        return await run_in_threadpool(self._may_read_run, run_id)

    def _may_read_run(self, run_id: int) -> bool:
        if self._principal is None:
            return False
        with self._state.read_sessions() as session:
            project_id = project_of(session, "run_id", run_id)
            return (
                project_id is not None and role_in(session, self._principal, project_id) is not None
            )

    def sees_project(self, project_id: int | None) -> bool:
        if self._visible is None:
            return True
        return project_id is not None and project_id in self._visible


def public() -> None:
    """Routes anyone may call (log in, health)."""


_decides(public, Rule("public"))

PublicRoute = Depends(public)
CurrentUser = Annotated[Principal, Depends(signed_in(level="user"))]
AdminUser = Annotated[Principal, Depends(signed_in(level="admin"))]

ProjectViewer = Annotated[ProjectAccess, Depends(in_project(ProjectRole.viewer, "project_id"))]
ProjectEditor = Annotated[ProjectAccess, Depends(in_project(ProjectRole.editor, "project_id"))]
ProjectOwner = Annotated[ProjectAccess, Depends(in_project(ProjectRole.owner, "project_id"))]
RunViewer = Annotated[ProjectAccess, Depends(in_project(ProjectRole.viewer, "run_id"))]
RunEditor = Annotated[ProjectAccess, Depends(in_project(ProjectRole.editor, "run_id"))]
#: reads a run with a POST (model testing): viewers and read tokens may call it
RunReader = Annotated[
    ProjectAccess, Depends(in_project(ProjectRole.viewer, "run_id", writes=False))
]
ConfigViewer = Annotated[ProjectAccess, Depends(in_project(ProjectRole.viewer, "config_id"))]
ConfigEditor = Annotated[ProjectAccess, Depends(in_project(ProjectRole.editor, "config_id"))]
GroupViewer = Annotated[ProjectAccess, Depends(in_project(ProjectRole.viewer, "group_id"))]
GroupEditor = Annotated[ProjectAccess, Depends(in_project(ProjectRole.editor, "group_id"))]
ModelViewer = Annotated[ProjectAccess, Depends(in_project(ProjectRole.viewer, "model_id"))]
ModelEditor = Annotated[ProjectAccess, Depends(in_project(ProjectRole.editor, "model_id"))]


# ---- the startup check -------------------------------------------------------------------------


def rules_of(dependant: Any) -> list[Rule]:
    """Every access rule among a route's dependencies (recursively)."""
    found: list[Rule] = []
    for dep in dependant.dependencies:
        rule = getattr(dep.call, "access_rule", None)
        if rule is not None:
            found.append(rule)
        found.extend(rules_of(dep))
    return found


def route_rule(route: Any) -> Rule:
    """The one access rule of a route (or of a `RouteContext` of an included router)."""
    rules = rules_of(route.dependant)
    if len(rules) != 1:
        what = "no access decision" if not rules else f"{len(rules)} access decisions"
        raise RuntimeError(
            f"route {route.path_format} has {what}; depend on exactly one of PublicRoute, "
            "CurrentUser, AdminUser or a project dependency from visionyard.dashboard.access"
        )
    return rules[0]


def api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every HTTP route of the app, included routers' too. (The WebSocket decides per topic:
    `LiveAccess`.)"""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def check_every_route_decides(app: FastAPI) -> None:
    """Refuse to start with a route nobody decided access for (RuntimeError naming it)."""
    for route in api_routes(app):
        route_rule(route)
