"""S2, S3 and S12 (docs/reliability.md): the whole API fuzzed in-process, on SQLite and
PostgreSQL.

- S2: schemathesis generates requests (valid and invalid: positive and negative generation, plus
  its coverage phase of boundary cases) for every operation of the app's own OpenAPI document.
  No response may be a 5xx, and every documented response must match its schema and media type.
- S3: hypothesis-generated TrainConfig dicts through `POST /projects/{id}/configs`: 201, or a
  422 naming the field, or a 400 path error with a message; never anything else.
- S12: a corpus of hostile strings and numbers in every parameter of every operation (path,
  query, body fields): no 5xx, no markup reflected as HTML, and the database intact afterwards.

Every test seeds real data first (a project, a group, a registered dataset of real PNGs, a model,
a two-version config, a finished run with events, a checkpoint and files, a queued run, an agent,
a second user and token), so that ids like 1 and 2 exist and the fuzzers reach the code behind
the 404s.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy import inspect, select, update

from tests.dashboard.conftest import AUTH
from visionyard import runqueue
from visionyard.dashboard import access
from visionyard.dashboard.services import auth as auth_service
from visionyard.db.models import (
    Agent,
    ApiToken,
    ConfigVersion,
    Dataset,
    ExperimentGroup,
    ModelEntry,
    Project,
    ProjectMember,
    Run,
    RunTag,
    TrainingConfig,
    User,
)
from visionyard.training.config import TrainConfig

API = "/api/v1"


# ---- seeded data, shared with the traversal tests ------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """What `seed_everything` created (ids, and the folders behind them)."""

    project_id: int
    group_id: int
    dataset_id: int
    model_id: int
    config_id: int
    finished_run_id: int
    queued_run_id: int
    agent_id: int
    user_id: int
    token_id: int
    run_folder: Path
    dataset_folder: Path
    model_folder: Path
    config_data: dict[str, Any]
    sample_path: str


@pytest.fixture(scope="session")
def fuzz_dataset_source(digits_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small slice of the real digits dataset (3 classes), written once per session and
    copied into each test's DATASETS_DIR (a link would lead out of it and be refused)."""
    root = tmp_path_factory.mktemp("fuzz-data") / "digits"
    for split, per_class in (("train", 6), ("val", 3), ("test", 3)):
        for cls in ("0", "1", "2"):
            target = root / split / cls
            target.mkdir(parents=True)
            for file in sorted((digits_root / split / cls).iterdir())[:per_class]:
                shutil.copy(file, target / file.name)
    return root


def seed_everything(
    client: TestClient, app: FastAPI, dataset_source: Path, model_folder: Path
) -> Seeded:
    """Real rows and files behind the low ids of every resource, created through the API (and
    the run queue, for what agents do)."""
    settings_ = app.state.vy.settings
    dataset_folder = settings_.datasets_root / "digits"
    shutil.copytree(dataset_source, dataset_folder)

    def post(path: str, body: dict) -> dict:
        response = client.post(f"{API}{path}", json=body)
        assert response.status_code == 201, (path, response.text)
        return response.json()

    project = post("/projects", {"name": "fuzz", "description": "seeded"})["id"]
    group = post(f"/projects/{project}/groups", {"name": "g"})["id"]
    dataset = post("/datasets", {"name": "digits", "path": "digits"})["id"]
    model = post(
        f"/projects/{project}/models",
        {"name": "tiny", "source": str(model_folder), "access_token": "hf_secret"},
    )["id"]
    data = {"root": "digits", "model_flavour": str(model_folder), "epochs": 1, "batch_size": 4}
    config = post(f"/projects/{project}/configs", {"name": "base", "data": data})["id"]
    saved = client.put(f"{API}/configs/{config}", json={"data": data | {"epochs": 2}})
    assert saved.status_code == 200 and saved.json()["created"], saved.text
    user = post("/users", {"username": "someone", "password": "a-long-password"})["id"]
    token = post("/tokens", {"name": "extra"})["id"]

    finished = post(f"/configs/{config}/runs", {"gpu_count": 0, "tags": ["a", "b"]})
    db = app.state.vy.engine
    agent = runqueue.register_agent(
        db, name="agent-1", hostname="host", device="cpu", gpus=[], version="t"
    )
    claimed = runqueue.claim_next(db, agent_id=agent, capacity=8)
    assert claimed is not None and claimed.id == finished["id"]
    runqueue.write_events(
        db,
        claimed.id,
        claimed.attempt,
        [{"type": "train_step", "step": s, "loss": 1.0 / s, "lr": 0.1} for s in range(1, 30)]
        + [{"type": "log", "seq": i, "level": "info", "message": f"line {i}"} for i in range(5)],
        agent_id=agent,
    )
    runqueue.record_checkpoint(
        db, claimed.id, claimed.attempt, "last", "checkpoints/last", 1, 29, 0.5, agent_id=agent
    )
    runqueue.finish_run(db, claimed.id, claimed.attempt, agent, "succeeded", None)
    run_folder = settings_.runs_root / finished["run_dir"]
    (run_folder / "model").mkdir(parents=True)
    (run_folder / "results.json").write_text(json.dumps({"val": {"acc@1": 0.5}}))
    (run_folder / "config.json").write_text(json.dumps(data))
    (run_folder / "model" / "README.md").write_text("# model card\n")
    queued = post(f"/configs/{config}/runs", {"gpu_count": 0, "group_id": group})["id"]
    sample = sorted((dataset_folder / "train" / "0").iterdir())[0]
    return Seeded(
        project_id=project,
        group_id=group,
        dataset_id=dataset,
        model_id=model,
        config_id=config,
        finished_run_id=finished["id"],
        queued_run_id=queued,
        agent_id=agent,
        user_id=user,
        token_id=token,
        run_folder=run_folder,
        dataset_folder=dataset_folder,
        model_folder=model_folder,
        config_data=data,
        sample_path=sample.relative_to(dataset_folder).as_posix(),
    )


@pytest.fixture
def seeded(
    client: TestClient,
    app: FastAPI,
    fuzz_dataset_source: Path,
    tiny_model: Callable[[str], Path],
) -> Seeded:
    return seed_everything(client, app, fuzz_dataset_source, tiny_model("resnet"))


def keep_admin_usable(app: FastAPI) -> None:
    """Undo what a fuzzer may do to the account it authenticates with (disable or demote the
    admin, revoke its token): the rest of the run must still reach the routes."""
    with app.state.vy.sessions() as session, session.begin():
        session.execute(
            update(User).where(User.username == "admin").values(disabled=False, is_admin=True)
        )
        session.execute(update(ApiToken).values(revoked_at=None, expires_at=None))


# ---- S2: schemathesis over the whole OpenAPI document -------------------------------------------

#: examples per operation in the fuzzing phase (shared by positive and negative generation); the
#: coverage phase adds its deterministic boundary and type-confusion cases on top
MAX_EXAMPLES = 30
#: the fewest requests one backend's run may make (last measured: 3,871, plus 339 deletes)
MIN_REQUESTS = 1000
#: operations that can change the admin's own account; repaired after each call
ACCOUNT_OPERATIONS = frozenset({"updateUser", "revokeToken"})
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    # No shrinking: a failure is reported with the request that caused it, and shrinking
    # thousands of requests would blow the time budget.
    phases=[Phase.explicit, Phase.generate],
)


@dataclass
class RequestCounter:
    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)

    def add(self, status: int) -> None:
        self.requests += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1


@pytest.fixture
def fuzz_counter() -> Iterator[RequestCounter]:
    counter = RequestCounter()
    yield counter
    by_status = sorted(counter.by_status.items())
    print(f"\nschemathesis: {counter.requests} requests, by status {by_status}")
    assert counter.requests >= MIN_REQUESTS, counter


@pytest.fixture(autouse=True)
def _schemathesis_nodeid_shim(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's pytest integration reads and rewrites `item._nodeid`, which pytest
    # 9.2 no longer has (node ids became structured); give it the attribute it expects.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@pytest.fixture
def api_schema(app: FastAPI, seeded: Seeded, client: TestClient) -> Any:
    """The app's own OpenAPI document, loaded in-process, after the data is seeded."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20240601,
            "headers": dict(AUTH),
            "generation": {"mode": "all", "deterministic": True, "max-examples": MAX_EXAMPLES},
        }
    )
    return schemathesis.openapi.from_asgi(f"{API}/openapi.json", app, config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def call_and_check(case: Any, app: FastAPI, counter: RequestCounter) -> None:
    # The ASGI client is deliberately not entered: the `client` fixture owns the app's lifespan
    # (event bus, reaper), and schemathesis would otherwise start a second one and keep it
    # running until the interpreter exits, long after the database is dropped.
    response = case.call(session=asgi.ASGIClient(app), headers=dict(AUTH))
    counter.add(response.status_code)
    if case.operation.definition.raw.get("operationId") in ACCOUNT_OPERATIONS:
        keep_admin_usable(app)
    case.validate_response(
        response,
        checks=[
            schemathesis.checks.not_a_server_error,
            response_schema_conformance,
            content_type_conformance,
        ],
    )


# Deletes run in a test of their own (on freshly seeded data): deleting project 1 early would
# leave the other operations little but 404s.
@schema.exclude(method="DELETE").parametrize()
@FUZZ_SETTINGS
@pytest.mark.slow
def test_schemathesis_no_server_error(
    case: Any, app: FastAPI, fuzz_counter: RequestCounter
) -> None:
    call_and_check(case, app, fuzz_counter)


@pytest.fixture
def delete_counter() -> Iterator[RequestCounter]:
    counter = RequestCounter()
    yield counter
    print(f"\nschemathesis (deletes): {counter.requests} requests")
    assert counter.requests >= 100, counter


@schema.include(method="DELETE").parametrize()
@FUZZ_SETTINGS
@pytest.mark.slow
def test_schemathesis_no_server_error_on_deletes(
    case: Any, app: FastAPI, delete_counter: RequestCounter
) -> None:
    call_and_check(case, app, delete_counter)


# Server errors the fuzzers found, pinned: (method, url, JSON body or None). Before the fix
# each one answered 500 (ids beyond int64 on SQLite, beyond int32 on PostgreSQL; NUL characters
# on PostgreSQL); now each is a 422 naming the parameter.
PINNED_SERVER_ERRORS = [
    ("DELETE", f"{API}/tokens/289762753690262863872", None, "token_id"),
    ("DELETE", f"{API}/tokens/2147483648", None, "token_id"),
    ("PATCH", f"{API}/users/9223372036854775808", {"disabled": False}, "user_id"),
    ("PATCH", f"{API}/users/2147483648", {"disabled": False}, "user_id"),
    ("POST", f"{API}/auth/login", {"username": "a\x00b", "password": "x"}, "username"),
    ("POST", f"{API}/auth/login", {"username": "admin", "password": "a\x00b"}, "password"),
    ("POST", f"{API}/tokens", {"name": "a\x00b"}, "name"),
]


# ---- as a viewer: schemathesis changes nothing of the project --------------------------------

#: what a viewer may change: its own account and sessions, projects it creates, and model
#: testing (a POST that changes nothing)
VIEWER_SELF_SERVICE = frozenset(
    {
        "login",
        "logout",
        "createToken",
        "revokeToken",
        "endSession",
        "endAllSessions",
        "createProject",
        "testRunModel",
    }
)


@pytest.fixture
def viewer_headers(app: FastAPI, seeded: Seeded) -> dict[str, str]:
    """A write token of a user who is a viewer of the seeded project."""
    with app.state.vy.sessions() as session, session.begin():
        vera = User(username="vera", password_hash=None, is_admin=False)
        session.add(vera)
        session.flush()
        session.add(ProjectMember(project_id=seeded.project_id, user_id=vera.id, role="viewer"))
        _, secret = auth_service.create_token(session, vera, "fuzz")
    return {"Authorization": f"Bearer {secret}"}


def project_contents(app: FastAPI, project_id: int) -> dict[str, Any]:
    """Everything of a project a viewer must not be able to change."""
    with app.state.vy.sessions() as session:

        def rows(query: Any) -> list[tuple[Any, ...]]:
            return sorted(tuple(r) for r in session.execute(query))

        runs = select(Run.id, Run.name, Run.state, Run.group_id, Run.cancel_requested,
                      Run.attempt).where(Run.project_id == project_id)  # fmt: skip
        return {
            "project": rows(
                select(Project.name, Project.description).where(Project.id == project_id)
            ),  # fmt: skip
            "members": rows(
                select(ProjectMember.user_id, ProjectMember.role).where(
                    ProjectMember.project_id == project_id
                )
            ),  # fmt: skip
            "groups": rows(
                select(ExperimentGroup.id, ExperimentGroup.name).where(
                    ExperimentGroup.project_id == project_id
                )
            ),  # fmt: skip
            "models": rows(
                select(ModelEntry.id, ModelEntry.name, ModelEntry.source).where(
                    ModelEntry.project_id == project_id
                )
            ),  # fmt: skip
            "configs": rows(
                select(TrainingConfig.id, TrainingConfig.name).where(
                    TrainingConfig.project_id == project_id
                )
            ),  # fmt: skip
            "versions": rows(
                select(ConfigVersion.id)
                .join(TrainingConfig)
                .where(TrainingConfig.project_id == project_id)
            ),  # fmt: skip
            "runs": rows(runs),
            "tags": rows(
                select(RunTag.run_id, RunTag.tag).join(Run).where(Run.project_id == project_id)
            ),  # fmt: skip
            "datasets": rows(select(Dataset.id, Dataset.name)),
            "agents": rows(select(Agent.id, Agent.drained)),
        }


def in_a_project_of_its_own(app: FastAPI, path: dict[str, Any], seeded_project: int) -> bool:
    """Whether the path names a resource of a project other than the seeded one: one the viewer
    created (createProject), which it owns and may change."""
    with app.state.vy.sessions() as session:
        for via in ("project_id", "run_id", "config_id", "group_id", "model_id"):
            value = str(path.get(via, ""))
            if value.isdigit() and 0 < int(value) < 2**31:
                project = access.project_of(session, via, int(value))
                return project is not None and project != seeded_project
    return False


@pytest.fixture
def viewer_schema(app: FastAPI, seeded: Seeded, client: TestClient, viewer_headers: Any) -> Any:
    config = SchemathesisConfig.from_dict(
        {
            "seed": 20240602,
            "headers": viewer_headers,
            "generation": {"mode": "all", "deterministic": True, "max-examples": MAX_EXAMPLES},
        }
    )
    return schemathesis.openapi.from_asgi(f"{API}/openapi.json", app, config=config)


@pytest.fixture
def unchanged_project(app: FastAPI, seeded: Seeded) -> Iterator[RequestCounter]:
    before = project_contents(app, seeded.project_id)
    counter = RequestCounter()
    yield counter
    assert project_contents(app, seeded.project_id) == before
    print(f"\nschemathesis as a viewer: {counter.requests} requests, {counter.by_status}")


viewer = schemathesis.pytest.from_fixture("viewer_schema")


@viewer.exclude(method="GET").parametrize()
@FUZZ_SETTINGS
@pytest.mark.slow
def test_schemathesis_as_a_viewer_changes_nothing(
    case: Any,
    app: FastAPI,
    viewer_headers: dict[str, str],
    unchanged_project: RequestCounter,
    seeded: Seeded,
) -> None:
    own_project = in_a_project_of_its_own(app, case.path_parameters or {}, seeded.project_id)
    response = case.call(session=asgi.ASGIClient(app), headers=viewer_headers)
    unchanged_project.add(response.status_code)
    operation = case.operation.definition.raw.get("operationId")
    if operation == "revokeToken":  # keep the viewer's own token usable for the next cases
        with app.state.vy.sessions() as session, session.begin():
            session.execute(update(ApiToken).values(revoked_at=None))
    if operation not in VIEWER_SELF_SERVICE and not own_project:
        assert response.status_code >= 400, (operation, case.path_parameters, response.status_code)
    assert response.status_code < 500, response.text


def test_pinned_server_errors_answer_422(client: TestClient, seeded: Seeded) -> None:
    for method, url, body, field_name in PINNED_SERVER_ERRORS:
        response = client.request(method, url, json=body) if body else client.request(method, url)
        assert response.status_code == 422, (method, url, response.text)
        fields = [f["field"] for f in response.json()["error"]["fields"]]
        assert any(f.endswith(field_name) for f in fields), (url, fields)
    assert client.get(f"{API}/auth/me").json()["username"] == "admin"


def test_user_and_token_timestamps_are_rfc3339_with_offset(
    client: TestClient, seeded: Seeded
) -> None:
    """Found by schemathesis' response-schema check: on SQLite these came back naive (no
    offset), which is not a JSON Schema date-time and a browser would read as local time."""
    stamps = [u["created_at"] for u in client.get(f"{API}/users").json()["items"]]
    for token in client.get(f"{API}/tokens").json()["items"]:
        stamps += [token[k] for k in ("created_at", "expires_at", "revoked_at") if token[k]]
    created = client.post(f"{API}/tokens", json={"name": "t", "expires_in_days": 1}).json()
    stamps += [created["created_at"], created["expires_at"]]
    assert len(stamps) >= 5
    assert all(s.endswith(("Z", "+00:00")) for s in stamps), stamps


def test_seeded_responses_match_their_documented_schemas(
    app: FastAPI, seeded: Seeded, client: TestClient
) -> None:
    """Random generation rarely names an existing file or metric; these concrete requests make
    the schema and media-type checks see every kind of successful answer. (A downloaded
    results.json once came back as application/json and failed the listing's schema.)"""
    s = seeded
    loaded = schemathesis.openapi.from_asgi(f"{API}/openapi.json", app)
    requests = [
        ("/runs/{run_id}/files", {"run_id": s.finished_run_id}, {}),
        ("/runs/{run_id}/files", {"run_id": s.finished_run_id}, {"path": "model"}),
        ("/runs/{run_id}/files", {"run_id": s.finished_run_id}, {"path": "results.json"}),
        ("/runs/{run_id}/files", {"run_id": s.finished_run_id}, {"path": "model/README.md"}),
        ("/runs/{run_id}/results", {"run_id": s.finished_run_id}, {}),
        ("/runs/{run_id}/metrics", {"run_id": s.finished_run_id}, {}),
        (
            "/runs/{run_id}/metrics/series",
            {"run_id": s.finished_run_id},
            {"names": ["train/step_loss"], "max_points": 10},
        ),
        ("/runs/{run_id}/logs", {"run_id": s.finished_run_id}, {}),
        ("/runs/{run_id}/checkpoints", {"run_id": s.finished_run_id}, {}),
        ("/runs/{run_id}", {"run_id": s.queued_run_id}, {}),
        ("/runs", {}, {"project_id": s.project_id, "tag": "a"}),
        ("/agents/{agent_id}", {"agent_id": s.agent_id}, {}),
        ("/datasets/{dataset_id}", {"dataset_id": s.dataset_id}, {}),
        ("/datasets/{dataset_id}/samples", {"dataset_id": s.dataset_id}, {"class_name": "1"}),
        ("/datasets/{dataset_id}/thumbnail", {"dataset_id": s.dataset_id}, {"path": s.sample_path}),
        ("/datasets/browse", {}, {"path": "digits"}),
        ("/configs/{config_id}/diff", {"config_id": s.config_id}, {"from": 1, "to": 2}),
        ("/configs/{config_id}/versions/{version}", {"config_id": s.config_id, "version": 2}, {}),
        ("/options", {}, {"project_id": s.project_id}),
        ("/models/{model_id}", {"model_id": s.model_id}, {}),
        ("/groups/{group_id}", {"group_id": s.group_id}, {}),
        ("/users", {}, {}),
        ("/tokens", {}, {}),
        ("/sessions", {}, {}),
    ]
    for path, path_parameters, query in requests:
        case = loaded[API + path]["GET"].Case(path_parameters=path_parameters, query=query)
        response = case.call(session=asgi.ASGIClient(app), headers=dict(AUTH))
        assert response.status_code == 200, (path, query, response.text[:300])
        case.validate_response(
            response,
            checks=[
                schemathesis.checks.not_a_server_error,
                response_schema_conformance,
                content_type_conformance,
            ],
        )


# ---- S3: hypothesis-generated configs through the API --------------------------------------------

CONFIG_KEYS = sorted(TrainConfig.model_fields)
HOSTILE_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "../../etc/passwd",
    "/etc/passwd",
    "~",
    "~/x",
    "file:///etc/passwd",
    "http://example.invalid/model",
    "C:\\Windows\\win.ini",
    "..\\..\\x",
    "digits/../../..",
    "digits",
    "./digits",
    "$(touch /tmp/pwned)",
    "`id`",
    "a; rm -rf /",
    "\u202etxt.exe",
    "😀" * 50,
    "\uff0e\uff0e\uff0f",
    "x" * 5000,
    "NaN",
    "1e309",
]
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**400, -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=20),
)
junk = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(HOSTILE_TEXT[:6]), children, max_size=4
        )
    ),
    max_leaves=12,
)
SENSIBLE = {
    "epochs": st.integers(1, 5),
    "batch_size": st.integers(1, 64),
    "lr": st.floats(1e-6, 1.0),
    "seed": st.integers(0, 2**31),
    "weight_decay": st.floats(0.0, 1.0),
    "label_smoothing": st.floats(0.0, 0.5),
    "optimizer": st.sampled_from(["adamw", "adam", "sgd"]),
    "scheduler": st.sampled_from(["cosine", "linear", "constant"]),
    "train_preset": st.sampled_from(["none", "light", "standard", "strong"]),
    "monitor_mode": st.sampled_from(["auto", "min", "max"]),
    "resume": st.sampled_from(["auto", "never"]),
    "model_suffix": st.text("abc-_", max_size=8),
}
#: values many TrainConfig fields accept, so that some generated configs are valid (201)
plausible = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(0, 8),
    st.floats(0, 1),
    st.sampled_from(["auto", "none", "light", "adamw", "sgd", "cosine", "loss", "min", "max"]),
)
config_keys = (
    st.sampled_from(CONFIG_KEYS) | st.text(max_size=12) | st.sampled_from(HOSTILE_TEXT[:8])
)


@st.composite
def generated_configs(
    draw: st.DrawFn, base: dict[str, Any]
) -> tuple[dict[str, Any], set[str] | None]:
    """(config dict, keys changed from the valid `base`, or None when not built on it): mostly
    the base with 1-3 keys removed or replaced (so one bad field must be the one named), some
    sensible changes, sometimes a dict of junk throughout."""
    mode = draw(st.integers(0, 4))
    if mode == 0:
        return draw(st.dictionaries(config_keys, junk, max_size=8)), None
    if mode == 1:
        # Sensible values of real fields: the valid configs must still get through (201).
        changes = draw(st.fixed_dictionaries({}, optional=SENSIBLE))
        return dict(base) | changes, set(changes)
    data = dict(base)
    changed = set()
    for key in draw(st.lists(config_keys, min_size=1, max_size=3, unique=True)):
        if draw(st.booleans()) and key in data:
            del data[key]
        else:
            data[key] = draw(plausible if draw(st.booleans()) else junk)
        changed.add(key)
    return data, changed


def post_raw(client: TestClient, url: str, body: Any) -> Any:
    # Python's json writes NaN/Infinity tokens, huge integers and "\ud800" escapes, all of which
    # a careless client may send; httpx's json= would refuse some of them.
    content = json.dumps(body, allow_nan=True)
    return client.post(url, content=content, headers={"Content-Type": "application/json"})


def assert_config_answer(response: Any, changed: set[str] | None) -> None:
    status = response.status_code
    assert status in (201, 400, 422), (status, response.text[:500])
    body = response.json()
    if status == 201:
        assert body["latest"]["data"]["root"].endswith("digits"), body
        return
    error = body["error"]
    assert error["message"], body
    if status == 400:
        assert error["code"] == "path_outside_root", body
        return
    fields = error.get("fields")
    assert fields, f"a 422 must name the field(s): {body}"
    for item in fields:
        assert isinstance(item["field"], str) and item["field"], body
        assert isinstance(item["message"], str) and item["message"], body
    named = {item["field"].split(".")[0] for item in fields}
    known = {key for key in changed or () if key in CONFIG_KEYS}
    if changed is not None and len(changed) == 1 and known:
        # One known field changed on a valid base: that field is the one to blame.
        assert named & (known | {"data"}), (changed, fields)


def test_generated_configs_answer_201_or_a_named_field(
    client: TestClient, seeded: Seeded, app: FastAPI
) -> None:
    url = f"{API}/projects/{seeded.project_id}/configs"
    counts: dict[int, int] = {}
    names = iter(range(1_000_000))

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(generated_configs(seeded.config_data))
    def check(generated: tuple[dict[str, Any], set[str] | None]) -> None:
        data, changed = generated
        response = post_raw(client, url, {"name": f"c{next(names)}", "data": data})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        assert_config_answer(response, changed)

    check()
    print(f"\nS3 configs: answers by status {sorted(counts.items())}")
    assert counts.get(422, 0) > 100 and counts.get(201, 0) >= 10, counts


# Inputs the generator found (or that once reached the database) pinned as plain examples.
PINNED_CONFIGS = [
    {"epochs": 10**400},
    {"lr": 10**400},
    {"lr": float("nan")},
    {"lr": float("inf")},
    {"warmup_ratio": -float("inf")},
    {"seed": 2**63},
    {"seed": -(2**63) - 1},
    {"run_name": "\x00"},
    {"model_suffix": "\ud800"},
    {"class_labels": ["a\x00", "b"]},
    {"label2id": {"\ud800": 0}},
    {"id2label": {"0": "\x00"}},
    {"root": "\x00"},
    {"root": "\ud800"},
    {"root": "x" * 5000},
    {"root": "digits/" + "a" * 300},
    {"model_flavour": "\ud800"},
    {"model_flavour": "/" + "a" * 300},
    {"\x00": 1},
    {"\ud800": 1},
    {"eval_topk": [2**63]},
    {"max_datapoints_per_class": [10**400]},
]


def test_pinned_config_inputs_are_refused_by_field(client: TestClient, seeded: Seeded) -> None:
    for index, changes in enumerate(PINNED_CONFIGS):
        response = post_raw(
            client,
            f"{API}/projects/{seeded.project_id}/configs",
            {"name": f"pinned-{index}", "data": seeded.config_data | changes},
        )
        assert_config_answer(response, set(changes))
        assert response.status_code in (400, 422), (changes, response.text)


# ---- S12: injection strings in every parameter ---------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One hostile value, spelled for a JSON body (a raw JSON token) and for a URL (already
    percent-encoded, so bytes that are not UTF-8 reach the server as such)."""

    label: str
    json_token: str
    url: str


def text_value(value: str, label: str | None = None) -> Hostile:
    # surrogatepass: a lone surrogate goes into the URL as its (invalid UTF-8) bytes ED A0 80.
    url = quote(value.encode("utf-8", "surrogatepass"), safe="")
    return Hostile(label or repr(value)[:40], json.dumps(value), url)


def number_token(token: str) -> Hostile:
    return Hostile(token, token, quote(token, safe=""))


def raw_url(encoded: str) -> Hostile:
    """A value that only exists percent-encoded (NUL, bytes that are not UTF-8)."""
    return Hostile(encoded, json.dumps(encoded), encoded)


INJECTIONS: list[Hostile] = [
    text_value("' OR 1=1 --"),
    text_value("1' OR '1'='1"),
    text_value('"; DROP TABLE runs; --'),
    text_value("1; DROP TABLE projects"),
    text_value("admin'/*"),
    text_value("%00"),
    text_value("\x00"),
    text_value("a\x00b"),
    text_value("../../etc/passwd"),
    text_value("..%2f..%2fetc%2fpasswd"),
    text_value("<script>alert(1)</script>"),
    text_value('"><img src=x onerror=alert(1)>'),
    text_value("${jndi:ldap://x/a}"),
    text_value("{{7*7}}"),
    text_value("%s%s%s%n"),
    text_value("x" * 10_240, "10 kB"),
    text_value("\u202egnp.exe"),
    text_value("😀🚀" * 20, "emoji"),
    text_value("\ud800"),
    text_value(" "),
    text_value(""),
    text_value("\r\nX-Injected: 1"),
    raw_url("%00"),
    raw_url("%ff%fe"),
    raw_url("%c0%ae%c0%ae%c0%af"),
    number_token("-1"),
    number_token("0"),
    number_token(str(2**31)),
    number_token(str(2**63)),
    number_token(str(-(2**63) - 1)),
    number_token("1e309"),
    number_token("-1e309"),
    number_token("NaN"),
    number_token("1.5"),
    number_token("1" + "0" * 400),
]
#: a placeholder the JSON encoder leaves alone, replaced by the raw hostile token
SLOT = "__VISIONYARD_HOSTILE_SLOT__"
#: the baseline id for DELETEs: nothing seeded may be deleted by the corpus
ABSENT_ID = 999_999


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _types(doc: dict, schema: dict) -> set[str]:
    schema = _resolve(doc, schema)
    if "anyOf" in schema:
        return set().union(*(_types(doc, s) for s in schema["anyOf"]))
    kind = schema.get("type")
    return {kind} if kind else ({"string"} if "enum" in schema else set())


@dataclass
class Operation:
    operation_id: str
    method: str
    path: str
    path_params: list[str]
    query_params: list[str]
    required_query: list[str]
    body_fields: dict[str, set[str]]
    body_required: bool


def operations(app: FastAPI) -> list[Operation]:
    """Every operation of the app's own OpenAPI document with its parameters and body fields."""
    doc = app.openapi()
    found = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            params = op.get("parameters", [])
            body_schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            fields: dict[str, set[str]] = {}
            if body_schema is not None:
                resolved = _resolve(doc, body_schema)
                if "anyOf" in resolved:  # Optional[Model]
                    resolved = _resolve(doc, next(s for s in resolved["anyOf"] if "$ref" in s))
                for name, prop in resolved.get("properties", {}).items():
                    fields[name] = _types(doc, prop)
            found.append(
                Operation(
                    operation_id=op["operationId"],
                    method=method.upper(),
                    path=path,
                    path_params=[p["name"] for p in params if p["in"] == "path"],
                    query_params=[p["name"] for p in params if p["in"] == "query"],
                    required_query=[
                        p["name"] for p in params if p["in"] == "query" and p.get("required")
                    ],
                    body_fields=fields,
                    body_required=bool(op.get("requestBody", {}).get("required")),
                )
            )
    return found


class Baseline:
    """Valid values for everything a request needs, so that each request differs from a valid
    one in exactly the parameter under attack."""

    def __init__(self, seeded: Seeded) -> None:
        self.seeded = seeded
        self.counter = 0
        self.ids = {
            "project_id": seeded.project_id,
            "group_id": seeded.group_id,
            "dataset_id": seeded.dataset_id,
            "model_id": seeded.model_id,
            "config_id": seeded.config_id,
            "run_id": seeded.finished_run_id,
            "agent_id": seeded.agent_id,
            "user_id": seeded.user_id,  # never the admin the client authenticates as
            "token_id": seeded.token_id,  # never the admin's own token
            "session_id": 1,  # the admin (a bearer token) has none: a 404 unless under attack
            "version": 1,
            "name": "best.tar.gz",  # downloadRunExport's bundle name (not an id: a file name)
            "checkpoint": "best",  # a run's evaluation report
            "index": 0,  # an image in that report
        }
        self.query = {
            "path": seeded.sample_path,
            "names": "train/step_loss",
            "from": "1",
            "to": "2",
            # One value per parameter here; compareRuns wants two ids, so its baseline is a
            # 422, and each hostile value must still be refused without a 5xx.
            "ids": str(seeded.finished_run_id),
        }

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def path_value(self, op: Operation, name: str) -> str:
        if op.method == "DELETE":
            return str(ABSENT_ID)
        return str(self.ids[name])

    def body(self, op: Operation) -> dict[str, Any]:
        seeded = self.seeded
        values: dict[str, Any] = {
            "createUser": {"username": self.unique("u"), "password": "a-long-password"},
            "login": {"username": "admin", "password": "not-the-password"},
            "createToken": {"name": "t"},
            "createProject": {"name": self.unique("p")},
            "createGroup": {"name": self.unique("g")},
            "createDataset": {"name": self.unique("d"), "path": "digits"},
            "createModel": {"name": self.unique("m"), "source": str(seeded.model_folder)},
            "createConfig": {"name": self.unique("c"), "data": seeded.config_data},
            "updateConfig": {"data": seeded.config_data},
            "cloneConfig": {"name": self.unique("c")},
            "createRun": {"gpu_count": 0},
            "setRunTags": {"tags": ["t"]},
        }
        return dict(values.get(op.operation_id, {}))


@dataclass
class Outcome:
    requests: int = 0
    failures: list[str] = field(default_factory=list)


def send(
    client: TestClient,
    op: Operation,
    baseline: Baseline,
    hostile: Hostile,
    *,
    target: tuple[str, str],
    outcome: Outcome,
) -> None:
    where, name = target
    path = op.path
    for param in op.path_params:
        value = hostile.url if target == ("path", param) else baseline.path_value(op, param)
        path = path.replace("{" + param + "}", value)
    query = [
        f"{quote(param, safe='')}={quote(baseline.query[param], safe='')}"
        for param in op.required_query
        if target != ("query", param)
    ]
    if where == "query":
        query.append(f"{quote(name, safe='')}={hostile.url}")
    url = path + ("?" + "&".join(query) if query else "")
    kwargs: dict[str, Any] = {}
    if op.body_fields or op.body_required:
        body = baseline.body(op)
        if where == "body":
            body[name] = SLOT
        content = json.dumps(body).replace(json.dumps(SLOT), hostile.json_token)
        kwargs = {"content": content, "headers": {"Content-Type": "application/json"}}
    label = f"{op.method} {url[:120]} [{where} {name}={hostile.label}]"
    outcome.requests += 1
    try:
        response = client.request(op.method, url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - an exception escaping the app is the failure
        outcome.failures.append(f"{label}: raised {type(exc).__name__}: {exc}"[:400])
        return
    if response.status_code >= 500:
        outcome.failures.append(f"{label}: {response.status_code} {response.text[:200]}")
    media = response.headers.get("content-type", "")
    if "html" in media and b"<script" in response.content.lower():
        outcome.failures.append(f"{label}: markup reflected in an HTML response")
    if response.content and not media.startswith(("application/json", "image/")):
        disposition = response.headers.get("content-disposition", "")
        if not disposition.startswith("attachment"):
            outcome.failures.append(f"{label}: answered {media!r} inline")


def snapshot(app: FastAPI) -> dict[str, Any]:
    engine = app.state.vy.engine
    with app.state.vy.sessions() as session:
        return {
            "tables": set(inspect(engine).get_table_names()),
            "projects": set(session.scalars(select(Project.id))),
            "datasets": set(session.scalars(select(Dataset.id))),
            "models": set(session.scalars(select(ModelEntry.id))),
            "configs": set(session.scalars(select(TrainingConfig.id))),
            "versions": set(session.scalars(select(ConfigVersion.id))),
            "runs": set(session.scalars(select(Run.id))),
            "users": set(session.scalars(select(User.username))),
        }


@pytest.mark.slow
def test_injection_corpus_in_every_parameter(
    client: TestClient, app: FastAPI, seeded: Seeded
) -> None:
    before = snapshot(app)
    assert before["tables"] >= {"projects", "runs", "users", "configs", "datasets"}
    baseline = Baseline(seeded)
    outcome = Outcome()
    targets = 0
    for op in operations(app):
        slots = [("path", p) for p in op.path_params] + [("query", p) for p in op.query_params]
        slots += [("body", name) for name, kinds in op.body_fields.items() if kinds]
        for target in slots:
            targets += 1
            for hostile in INJECTIONS:
                send(client, op, baseline, hostile, target=target, outcome=outcome)
                if op.operation_id in ACCOUNT_OPERATIONS:
                    keep_admin_usable(app)
    print(f"\nS12: {outcome.requests} requests over {targets} parameters")
    assert targets >= 150, targets
    assert not outcome.failures, "\n".join(outcome.failures[:40])

    # Nothing was dropped or deleted; what the corpus created is there as plain data.
    after = snapshot(app)
    assert after["tables"] == before["tables"]
    for key in ("projects", "datasets", "models", "configs", "versions", "runs", "users"):
        assert before[key] <= after[key], key
    for text in ("' OR 1=1 --", '"; DROP TABLE runs; --', "<script>alert(1)</script>", "%_"):
        name = f"{text} (round trip)"
        created = client.post(f"{API}/projects", json={"name": name})
        assert created.status_code == 201, created.text
        listed = client.get(f"{API}/projects", params={"q": name}).json()
        assert [p["name"] for p in listed["items"]] == [name], listed


#: URLs whose path or query hold NUL, bytes that are not UTF-8, broken escapes or odd keys
MALFORMED_URLS = [
    "/api/v1/%00",
    "/api/v1/projects/%00",
    "/api/v1/projects/%ff%fe/groups",
    "/api/v1/projects/1%00",
    "/api/v1/projects?q=%",
    "/api/v1/projects?q=%zz",
    "/api/v1/projects?q=%ff",
    "/api/v1/projects?q=%00&q=%00",
    "/api/v1/projects?%ff=1",
    "/api/v1/projects?%00=1",
    "/api/v1/projects?limit=%00",
    "/api/v1/projects?sort=%ff",
    "/api/v1/projects?&&&==&",
    "/api/v1/runs?tag=%ed%a0%80",
    "/api/v1/runs?state=%00",
    "/api/v1/runs/1/metrics/series?names=%00&names=%ff",
    "/api/v1/runs/1/files?path=%c0%80",
    "/api/v1/datasets/browse?path=%ed%a0%80",
    "/api/v1/datasets/1/samples?class_name=%ff%00",
    "/api/v1/agents?q=%e2%80%ae",
]


def test_malformed_urls_never_reach_the_database_as_5xx(client: TestClient, seeded: Seeded) -> None:
    """NUL and invalid UTF-8 in the URL are decoded (as U+FFFD, or refused by the input types)
    before any query runs, so no middleware is needed; this keeps it that way."""
    for url in MALFORMED_URLS:
        response = client.get(url)
        assert response.status_code < 500, (url, response.text)
        assert response.headers["content-type"].startswith("application/json"), url
