"""The authorization matrix, built from the app's own OpenAPI document: every operation, called
by each of nine principals, answers what one table says it must.

`DECISIONS` names, for every operation id, who may call it. A new route missing from it fails
`test_every_operation_has_a_decision_in_the_table`; a route whose dependency decides otherwise
than the table fails `test_each_route_decides_what_the_table_says`; and the app itself refuses
to start with a route that depends on no access decision
(`test_an_app_with_an_undecided_route_does_not_start`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.dashboard.conftest import ADMIN_TOKEN
from tests.dashboard.seed import Seeded, project_with_one_of_each, token, user
from tests.dashboard.test_openapi import PATH_VALUES, REQUIRED_QUERY
from visionyard.dashboard import access
from visionyard.dashboard.app import create_app
from visionyard.db.models import (
    ApiToken,
    ConfigVersion,
    ExperimentGroup,
    ModelEntry,
    Project,
    ProjectMember,
    ProjectRole,
    Run,
    TrainingConfig,
    User,
)
from visionyard.settings import Settings

API = "/api/v1"

# ---- the table ---------------------------------------------------------------------------------

PUBLIC, USER, ADMIN = "public", "user", "admin"
VIEWER, EDITOR, OWNER = ProjectRole.viewer, ProjectRole.editor, ProjectRole.owner
#: a viewer's POST that changes nothing (read tokens may call it)
VIEWER_READS = "viewer (reads)"
#: any user, but every run named in the query must be one the caller may see
VIEWER_OF_LISTED = "viewer of every listed run"

DECISIONS: dict[str, Any] = {
    # signing in, and what is not anybody's data
    "health": PUBLIC,
    "login": PUBLIC,
    "logout": USER,
    "getMe": USER,
    "getOptions": USER,
    "getTrainConfigSchema": USER,
    "listTokens": USER,
    "createToken": USER,
    "revokeToken": USER,
    "listSessions": USER,
    "endSession": USER,
    "endAllSessions": USER,
    # the site: users, agents, datasets
    "listUsers": ADMIN,
    "listAuditEvents": ADMIN,
    "createUser": ADMIN,
    "updateUser": ADMIN,
    "listAgents": USER,
    "getAgent": USER,
    "drainAgent": ADMIN,
    "undrainAgent": ADMIN,
    "listDatasets": USER,
    "getDataset": USER,
    "listDatasetSamples": USER,
    "getDatasetThumbnail": USER,
    "browseDatasets": ADMIN,
    "createDataset": ADMIN,
    "analyzeDataset": ADMIN,
    "deleteDataset": ADMIN,
    # projects
    "listProjects": USER,
    "createProject": USER,
    "getProject": VIEWER,
    "updateProject": OWNER,
    "deleteProject": OWNER,
    "listProjectMembers": VIEWER,
    "setProjectMember": OWNER,
    "removeProjectMember": OWNER,
    "listGroups": VIEWER,
    "createGroup": EDITOR,
    "getGroup": VIEWER,
    "updateGroup": EDITOR,
    "deleteGroup": EDITOR,
    "listModels": VIEWER,
    "createModel": EDITOR,
    "getModel": VIEWER,
    "updateModel": EDITOR,
    "deleteModel": EDITOR,
    "listConfigs": VIEWER,
    "createConfig": EDITOR,
    "getConfig": VIEWER,
    "updateConfig": EDITOR,
    "deleteConfig": EDITOR,
    "cloneConfig": EDITOR,
    "listConfigVersions": VIEWER,
    "getConfigVersion": VIEWER,
    "diffConfigVersions": VIEWER,
    # runs
    "createRun": EDITOR,
    "listRuns": USER,
    "compareRuns": VIEWER_OF_LISTED,
    "listProjectRuns": VIEWER,
    "countProjectRuns": VIEWER,
    "listRunKeys": VIEWER,
    "assignRunsToGroup": EDITOR,
    "importRun": EDITOR,
    "getRun": VIEWER,
    "updateRun": EDITOR,
    "deleteRun": EDITOR,
    "cancelRun": EDITOR,
    "requeueRun": EDITOR,
    "resumeRun": EDITOR,
    "setRunTags": EDITOR,
    "listRunMetrics": VIEWER,
    "getRunMetricSeries": VIEWER,
    "getRunLogs": VIEWER,
    "listRunCheckpoints": VIEWER,
    "getRunResults": VIEWER,
    "getRunFiles": VIEWER,
    "listRunReports": VIEWER,
    "getRunReport": VIEWER,
    "getRunReportImage": VIEWER,
    "computeRunReport": EDITOR,
    "computeRunReportFromUpload": EDITOR,
    "testRunModel": VIEWER_READS,
    "exportRun": EDITOR,
    "downloadRunExport": VIEWER,
}

# ---- the principals ----------------------------------------------------------------------------

ALLOW = "allowed"
#: the name of the editor's project-limited token
LIMITED = "limited"


@dataclass(frozen=True)
class Principal:
    name: str
    #: role in the project under test (None: not in it); admins act as owners
    role: ProjectRole | None
    admin: bool = False
    read_only: bool = False
    agent: bool = False
    anonymous: bool = False


PRINCIPALS = [
    Principal("anonymous", None, anonymous=True),
    Principal("user of another project", None),
    Principal("viewer", VIEWER),
    Principal("editor", EDITOR),
    Principal("owner", OWNER),
    Principal("admin", OWNER, admin=True),
    Principal("read token (of the owner)", OWNER, read_only=True),
    Principal("write token (of the editor, limited to the project)", EDITOR),
    Principal("agent token (of the admin)", None, admin=True, agent=True),
]


def expected(decision: Any, who: Principal, method: str) -> str | int:
    """What the table says `who` gets from an operation of `decision` called with `method`."""
    if decision == PUBLIC:
        return ALLOW
    if who.anonymous:
        return 401
    if who.agent:
        return 403
    writes = method not in ("GET", "HEAD") and decision != VIEWER_READS
    if writes and who.read_only:
        return 403
    if decision == USER:
        return ALLOW
    if decision == ADMIN:
        return ALLOW if who.admin else 403
    need = VIEWER if decision in (VIEWER_READS, VIEWER_OF_LISTED) else decision
    if who.role is None:
        return 404  # the words of a resource that does not exist
    return ALLOW if who.role >= need else 403


def outcome(response: Any, denied_404: str) -> str | int:
    """What a response means: allowed, or which refusal. A 404 is a refusal only with the
    words of the resource the path names (a missing report or file is an allowed call's
    answer)."""
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code in (401, 403):
        return int(response.status_code)
    if response.status_code == 404 and response.json()["error"]["message"] == denied_404:
        return 404
    return ALLOW


# ---- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    app: FastAPI
    headers: dict[str, dict[str, str]]
    user_ids: dict[str, int]
    counter: Iterator[int]

    def project(self) -> Seeded:
        """A fresh project P with the roles of the principals and one resource of each kind;
        the editor's project-limited token is given P too."""
        members = {"vic": "viewer", "eddie": "editor", "olga": "owner"}
        seeded = project_with_one_of_each(self.app, f"p{next(self.counter)}", members)
        with self.app.state.vy.sessions() as session, session.begin():
            limited = session.scalars(select(ApiToken).where(ApiToken.name == LIMITED)).one()
            limited.project_ids = [*(limited.project_ids or []), seeded.project_id]
        return seeded


@pytest.fixture
def world(sqlite_url: str, settings_factory: Callable[..., Settings]) -> Iterator[World]:
    app = create_app(settings_factory(sqlite_url))
    with TestClient(app):
        for name in ("xena", "vic", "eddie", "olga"):
            user(app, name)
        other = project_with_one_of_each(app, "q", {"xena": "owner"})
        first = project_with_one_of_each(app, "p0", {"vic": "viewer", "eddie": "editor",
                                                     "olga": "owner"})  # fmt: skip
        bearer = {
            "anonymous": None,
            "user of another project": token(app, "xena"),
            "viewer": token(app, "vic"),
            "editor": token(app, "eddie"),
            "owner": token(app, "olga"),
            "admin": ADMIN_TOKEN,
            "read token (of the owner)": token(app, "olga", scope="read"),
            # Limited to the projects under test (`World.project` adds each new one).
            "write token (of the editor, limited to the project)": token(
                app, "eddie", name=LIMITED, project_ids=[first.project_id]
            ),
            "agent token (of the admin)": token(app, "admin", kind="agent"),
        }
        assert other.project_id == 1 and first.project_id == 2
        with app.state.vy.sessions() as session:
            ids = {row.username: row.id for row in session.execute(select(User.username, User.id))}
        headers = {k: ({"Authorization": f"Bearer {v}"} if v else {}) for k, v in bearer.items()}
        yield World(app, headers, ids, itertools.count(1))
    app.state.vy.engine.dispose()


def fingerprint(app: FastAPI) -> tuple[Any, ...]:
    """Enough of the database to see that a refused call changed nothing."""
    with app.state.vy.sessions() as session:
        counts = tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Project, ProjectMember, ExperimentGroup, ModelEntry, TrainingConfig,
                          ConfigVersion, Run, ApiToken, User)
        )  # fmt: skip
        names = tuple(session.scalars(select(Project.name).order_by(Project.id)))
        runs = tuple(tuple(row) for row in session.execute(select(Run.id, Run.state, Run.name)))
        revoked = session.scalar(select(func.count()).where(ApiToken.revoked_at.is_not(None)))
    return counts, names, runs, revoked


def request_for(
    world: World, method: str, path: str, seeded: Seeded
) -> tuple[str, dict[str, Any], str]:
    """(url, request options, the 404 message of the path's resource) for one call."""
    ids = seeded.ids() | {"user_id": world.user_ids["vic"], "token_id": 9999, "agent_id": 1,
                          "session_id": 9999, "dataset_id": 1, "version": 1}  # fmt: skip
    names = re.findall(r"\{(\w+)\}", path)
    url = path
    for name in names:
        url = url.replace(f"{{{name}}}", str(PATH_VALUES.get(name, ids.get(name))))
    resource = next((n for n in names if n in seeded.ids()), None)
    denied_404 = str(access.not_found(resource, ids[resource])) if resource else "-"
    options: dict[str, Any] = {"params": dict(REQUIRED_QUERY)}
    if path.endswith("/runs/compare"):
        options["params"] = {"ids": [seeded.run_id, seeded.other_run_id]}
        denied_404 = f"runs {seeded.run_id}, {seeded.other_run_id} do not exist; list runs " \
            "(GET /api/v1/runs) to find their ids"  # fmt: skip
    if method in ("POST", "PUT", "PATCH"):
        options["json"] = {}
    return API + url.removeprefix(API), options, denied_404


# ---- the tests ---------------------------------------------------------------------------------


def operations(app: FastAPI) -> list[tuple[str, str, str]]:
    """(operation id, method, path) of every operation in the document."""
    return [
        (operation["operationId"], method.upper(), path)
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_operation_has_a_decision_in_the_table(world: World) -> None:
    ids = [op for op, _, _ in operations(world.app)]
    missing = sorted(set(ids) - set(DECISIONS))
    assert not missing, f"decide who may call these, in DECISIONS: {missing}"
    assert not sorted(set(DECISIONS) - set(ids)), "the table names operations that are gone"


def test_each_route_decides_what_the_table_says(world: World) -> None:
    by_id = {
        route.operation_id: route for route in access.api_routes(world.app) if route.operation_id
    }
    for operation_id, decision in DECISIONS.items():
        rule = access.route_rule(by_id[operation_id])
        if decision in (PUBLIC, USER, ADMIN):
            assert (rule.level, rule.role) == (decision, None), operation_id
        elif decision == VIEWER_OF_LISTED:
            assert rule.level == "user", operation_id  # each listed run is checked in the route
        else:
            role = VIEWER if decision == VIEWER_READS else decision
            assert (rule.level, rule.role) == ("project", role), operation_id
            assert rule.writes is (False if decision == VIEWER_READS else None), operation_id


def test_every_operation_answers_every_principal_as_the_table_says(world: World) -> None:
    checked = 0
    for operation_id, method, path in operations(world.app):
        decision = DECISIONS[operation_id]
        if operation_id == "logout":
            continue  # a bearer token has no session to end; covered by test_auth
        shared = world.project()
        before = fingerprint(world.app)
        allowed = []
        for who in PRINCIPALS:
            want = expected(decision, who, method)
            if want == ALLOW and method not in ("GET", "HEAD"):
                allowed.append(who)  # changes things: each on a fresh project, below
                continue
            url, options, denied_404 = request_for(world, method, path, shared)
            client = TestClient(world.app, headers=world.headers[who.name])
            got = outcome(client.request(method, url, **options), denied_404)
            assert got == want, (operation_id, who.name, got, want)
            checked += 1
        if method not in ("GET", "HEAD"):
            assert fingerprint(world.app) == before, f"a refused {operation_id} changed data"
        for who in allowed:
            url, options, denied_404 = request_for(world, method, path, world.project())
            client = TestClient(world.app, headers=world.headers[who.name])
            got = outcome(client.request(method, url, **options), denied_404)
            assert got == ALLOW, (operation_id, who.name, got)
            checked += 1
    assert checked >= 8 * len(DECISIONS)


def test_an_app_with_an_undecided_route_does_not_start(
    sqlite_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app = create_app(settings_factory(sqlite_url))
    undecided = APIRouter()

    @undecided.get("/api/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {}

    app.include_router(undecided)
    with pytest.raises(RuntimeError, match="/api/v1/forgotten has no access decision"):
        access.check_every_route_decides(app)
    app.state.vy.engine.dispose()
