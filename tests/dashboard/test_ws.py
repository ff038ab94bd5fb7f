"""Live events WebSocket (`/api/v1/ws`): a real uvicorn server in a thread, the `websockets`
client, real databases (SQLite file and PostgreSQL), and a second process writing events."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select, text
from sqlalchemy.orm import Session
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.dashboard.conftest import ADMIN_PASSWORD, ADMIN_TOKEN
from visionyard.dashboard.app import create_app
from visionyard.dashboard.events import EventBus, notify_topic
from visionyard.dashboard.events.hub import Hub, Outbox
from visionyard.dashboard.events.messages import parse_topic
from visionyard.dashboard.events.origin import origin_allowed
from visionyard.dashboard.events.store import Event
from visionyard.db.engine import make_engine
from visionyard.db.models import FeedEvent, Project, Run, RunEvent, RunState
from visionyard.runqueue import claim_next, enqueue, register_agent
from visionyard.runqueue.feed import run_topic
from visionyard.runqueue.metric_chunks import chunk_rows
from visionyard.settings import Settings

# ---- a real server ------------------------------------------------------------------------------


@dataclass
class LiveServer:
    app: FastAPI
    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws"

    @property
    def bus(self) -> EventBus:
        return self.app.state.vy.services["events"]

    def connect(
        self, *, token: str | None = ADMIN_TOKEN, query: str = "", **kwargs: Any
    ) -> ClientConnection:
        headers = dict(kwargs.pop("additional_headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return connect(
            self.url + query, additional_headers=headers, proxy=None, open_timeout=10, **kwargs
        )

    def project_id(self) -> int:
        with self.app.state.vy.sessions() as session, session.begin():
            project = Project(name=f"p-{uuid.uuid4().hex[:8]}")
            session.add(project)
            session.flush()
            return project.id

    def run_id(self, name: str = "r") -> int:
        """A run row (canceled: no agent may claim it) in a fresh project."""
        with self.app.state.vy.sessions() as session, session.begin():
            run = Run(
                project_id=self.project_id(),
                name=name,
                state=RunState.canceled,
                config_snapshot={},
                config_hash="0" * 64,
                progress={},
            )
            session.add(run)
            session.flush()
            return run.id

    def add_events(
        self, run_id: int, steps: range, *, payload: dict[str, Any] | None = None
    ) -> list[int]:
        """Log rows for `steps` (one event each, `payload` as given), in one transaction;
        returns their ids (= seqs)."""
        rows = [
            {
                "run_id": run_id,
                "attempt": 1,
                "kind": "log",
                "name": "info",
                "step": step,
                "value": None,
                "payload": payload or {},
                "dedupe_key": f"1:log:{step}",
                "created_at": time.time(),
            }
            for step in steps
        ]
        with self.app.state.vy.sessions() as session, session.begin():
            ids = session.execute(insert(RunEvent).returning(RunEvent.id), rows).scalars().all()
        return sorted(ids)

    def add_feed(self, topic: str, payloads: list[dict[str, Any]]) -> list[int]:
        with self.app.state.vy.sessions() as session, session.begin():
            ids = session.execute(
                insert(FeedEvent).returning(FeedEvent.id),
                [{"topic": topic, "payload": p, "created_at": time.time()} for p in payloads],
            ).scalars()
            return sorted(ids)

    def stored_seqs(self, run_id: int, after: int = 0) -> list[int]:
        with self.app.state.vy.sessions() as session:
            query = select(RunEvent.id).where(RunEvent.run_id == run_id, RunEvent.id > after)
            return list(session.scalars(query.order_by(RunEvent.id)))


def serve(app: FastAPI, *, send_buffer: int | None = None) -> Iterator[LiveServer]:
    """Run `app` on a free loopback port in a background thread until the generator closes.
    `send_buffer` caps the kernel send buffer of every accepted socket (Linux copies it from
    the listening socket), so that a client that stops reading blocks the server soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if send_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, ws="websockets-sansio", lifespan="on", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield LiveServer(app, port)
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


@pytest.fixture
def server(app: FastAPI) -> Iterator[LiveServer]:
    yield from serve(app)


@pytest.fixture
def pg_server(pg_url: str, settings_factory: Callable[..., Settings]) -> Iterator[LiveServer]:
    yield from serve(create_app(settings_factory(pg_url)))


# ---- client helpers ------------------------------------------------------------------------------


def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    """The next message that is not a server ping."""
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
        if message["type"] != "ping":
            return message


def subscribe(ws: ClientConnection, topic: str, after: int | None = None) -> int:
    """Subscribe and return the `subscribed` seq."""
    ws.send(json.dumps({"op": "subscribe", "topic": topic, "after": after}))
    message = recv(ws)
    assert message["type"] == "subscribed" and message["topic"] == topic, message
    return message["seq"]


def events(ws: ClientConnection, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    got = []
    while len(got) < count:
        message = recv(ws, timeout)
        assert message["type"] == "event", message
        got.append(message)
    return got


def close_code(ws: ClientConnection) -> int:
    """The close code, asserting that nothing but the close arrived first."""
    with pytest.raises(ConnectionClosed) as closed:
        message = ws.recv(timeout=5)
        pytest.fail(f"data arrived before the close: {message!r}")
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


# ---- acceptance: another process writes, the client resumes without gaps -------------------------

WRITER = r"""
import json, sys, time
from visionyard.db.engine import make_engine
from visionyard.runqueue import write_events

engine = make_engine(sys.argv[1])
run_id, agent_id = int(sys.argv[2]), int(sys.argv[3])
step = 0
print("ready", flush=True)
for line in sys.stdin:
    commits = []
    for _ in range(int(line)):
        step += 1
        event = {"type": "metrics", "step": step, "split": "train", "values": {"loss": 1 / step}}
        write_events(engine, run_id, 1, [event], agent_id=agent_id)
        commits.append({"step": step, "committed_at": time.time()})
    print(json.dumps(commits), flush=True)
engine.dispose()
"""


class Writer:
    """A separate Python process that writes metrics through the run queue, on request."""

    def __init__(self, db_url: str, run_id: int, agent_id: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, str(run_id), str(agent_id)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def write(self, count: int) -> dict[int, float]:
        """Write `count` metric events, one transaction each; {step: commit time}."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{count}\n")
        self.proc.stdin.flush()
        return {c["step"]: c["committed_at"] for c in json.loads(self._line())}

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0
        self.proc.stdout.close()


def test_another_process_writes_client_gets_it_within_a_second_and_resumes_exactly(
    server: LiveServer, db_url: str
) -> None:
    factory = server.app.state.vy.sessions
    run_id = enqueue(
        factory,
        project_id=server.project_id(),
        name="acc",
        config_snapshot={},
        config_hash="0" * 64,
    )
    agent_id = register_agent(
        factory, name="agent-1", hostname="h", device="cpu", gpus=[], version="t"
    )
    assert claim_next(factory, agent_id=agent_id, capacity=0).id == run_id
    writer = Writer(db_url, run_id, agent_id)
    try:
        topic = run_topic(run_id)
        with server.connect() as ws:
            assert subscribe(ws, topic) == 0
            committed = writer.write(5)
            got = events(ws, 5)
            arrived = time.time()
            latencies = [arrived - committed[m["data"]["step"]] for m in got]
            # Each event is read as soon as it arrives; the last one bounds them all.
            assert max(latencies) < 1.0, latencies
            assert [m["data"]["step"] for m in got] == [1, 2, 3, 4, 5]
            # One point a transaction: a chunk of one point each.
            assert all(m["topic"] == topic and m["data"]["kind"] == "metrics" for m in got)
            assert got[0]["data"]["name"] == "train/loss"
            assert got[0]["data"]["payload"]["steps"] == [1]
            assert got[0]["data"]["payload"]["values"] == [1.0]
            last = got[-1]["seq"]

        writer.write(7)  # while nobody listens
        missed = server.stored_seqs(run_id, after=last)
        assert len(missed) == 7

        with server.connect() as ws:
            newest = subscribe(ws, topic, after=last)
            # The live cursor: the newest seq (on PostgreSQL the newest *settled* one, which
            # trails while other transactions are in flight; the rest then arrives live).
            assert last <= newest <= missed[-1]
            replayed = events(ws, 7)
            assert [m["seq"] for m in replayed] == missed
            assert [m["data"]["step"] for m in replayed] == list(range(6, 13))
            committed = writer.write(3)  # live again, right after the replay
            live = events(ws, 3)
            assert [m["data"]["step"] for m in live] == [13, 14, 15]
            assert max(time.time() - t for t in committed.values()) < 2.0
            seqs = [m["seq"] for m in replayed + live]
            assert seqs == server.stored_seqs(run_id, after=last)  # no gap, no duplicate
            # Nothing else is pending: the next message is the answer to this ping.
            ws.send(json.dumps({"op": "ping"}))
            assert recv(ws) == {"type": "pong"}
    finally:
        writer.close()


def test_resume_during_concurrent_writes_has_no_gap_and_no_duplicate(server: LiveServer) -> None:
    server.bus.page_size = 7  # the replay takes several pages
    run_id = server.run_id()
    server.add_events(run_id, range(0, 30))
    stop = threading.Event()

    def keep_writing() -> None:
        step = 30
        while not stop.is_set() and step < 3000:
            server.add_events(run_id, range(step, step + 2))
            step += 2

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        with server.connect() as ws:
            first = server.stored_seqs(run_id)[4]
            # Subscribed while rows keep arriving: the replay and the live stream overlap.
            subscribe(ws, run_topic(run_id), after=first)
            received = [m["seq"] for m in events(ws, 60)]
            stop.set()
            thread.join()
            final = server.stored_seqs(run_id)[-1]
            while received[-1] != final:
                received.append(events(ws, 1)[0]["seq"])
    finally:
        stop.set()
        thread.join()
    assert received == server.stored_seqs(run_id, after=first)


# ---- topics --------------------------------------------------------------------------------------


def test_runs_and_agents_topics_deliver_feed_events(server: LiveServer) -> None:
    old = server.add_feed("runs", [{"run_id": 1, "state": "queued", "attempt": 1, "agent": None}])
    with server.connect() as ws:
        runs_seq = subscribe(ws, "runs")
        assert runs_seq == old[-1]
        assert subscribe(ws, "agents") == 0
        agent_ids = server.add_feed("agents", [{"agent_id": 3, "name": "a", "event": "registered"}])
        run_ids = server.add_feed(
            "runs",
            [
                {"run_id": 1, "state": "running", "attempt": 1, "agent": "a"},
                {"run_id": 1, "state": "succeeded", "attempt": 1, "agent": "a"},
            ],
        )
        got = events(ws, 3)
        by_topic = {t: [m for m in got if m["topic"] == t] for t in ("runs", "agents")}
        assert [m["seq"] for m in by_topic["runs"]] == run_ids
        assert [m["data"]["state"] for m in by_topic["runs"]] == ["running", "succeeded"]
        assert [m["seq"] for m in by_topic["agents"]] == agent_ids
        assert by_topic["agents"][0]["data"] == {"agent_id": 3, "name": "a", "event": "registered"}
        # A topic can be left; the others keep flowing.
        ws.send(json.dumps({"op": "unsubscribe", "topic": "runs"}))
        assert recv(ws) == {"type": "unsubscribed", "topic": "runs"}
        server.add_feed("runs", [{"run_id": 2, "state": "queued"}])
        more = server.add_feed("agents", [{"agent_id": 3, "event": "drained"}])
        assert [m["seq"] for m in events(ws, 1)] == more
    with server.connect() as ws:  # history of a feed topic replays from after=0
        subscribe(ws, "runs", after=0)
        assert [m["data"]["state"] for m in events(ws, 4)] == [
            "queued",
            "running",
            "succeeded",
            "queued",
        ]


def test_run_topic_is_the_spelling_the_protocol_parses() -> None:
    # The run queue announces run_topic(id); clients subscribe to the same wire spelling.
    topic = parse_topic(run_topic(42))
    assert (topic.name, topic.run_id) == ("run:42", 42)


def test_run_topic_values_are_json_safe(server: LiveServer) -> None:
    run_id = server.run_id()
    with server.connect() as ws:
        subscribe(ws, run_topic(run_id))
        points = [
            {"attempt": 2, "name": "train/loss", "step": step, "value": value,
             "created_at": 1234.5 + step, "payload": payload}
            for step, value, payload in [(9, None, {"epoch": 1}), (10, 0.5, {})]
        ]  # fmt: skip
        with server.app.state.vy.sessions() as session, session.begin():
            session.execute(insert(RunEvent), chunk_rows(run_id, points))
        (message,) = events(ws, 1)
        assert message["ts"] == 1243.5  # when its first point was logged
        assert message["data"] == {
            "kind": "metrics",
            "name": "train/loss",
            "step": 9,
            "value": None,
            "attempt": 2,
            "payload": {
                "steps": [9, 10],
                "values": [None, 0.5],  # a gap (stored as NaN) is null: JSON has no NaN
                "times": [1243.5, 1244.5],
                "epochs": [1, None],
            },
        }


def test_in_process_testclients_each_get_a_working_bus(
    client: TestClient, anon: TestClient
) -> None:
    # Two TestClients run the app's lifespan on two event loops at once.
    with anon.websocket_connect("/api/v1/ws") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 4401
    with client.websocket_connect("/api/v1/ws") as ws:
        ws.send_json({"op": "subscribe", "topic": "agents", "after": None})
        assert ws.receive_json() == {"type": "subscribed", "topic": "agents", "seq": 0}
        with client.app.state.vy.sessions() as session, session.begin():
            session.add(FeedEvent(topic="agents", payload={"agent_id": 1}, created_at=1.0))
        message = ws.receive_json()
        assert message["type"] == "event" and message["data"] == {"agent_id": 1}


# ---- authentication and origin (S11) -------------------------------------------------------------


def test_unauthenticated_or_bad_token_is_closed_before_any_data(server: LiveServer) -> None:
    with server.connect(token=None) as ws:
        assert close_code(ws) == 4401
    with server.connect(token="vy_not-a-real-token") as ws:
        assert close_code(ws) == 4401
    with server.connect(token=None, query="?token=vy_wrong") as ws:
        assert close_code(ws) == 4401
    with server.connect(token=None, additional_headers={"Cookie": "vy_session=forged"}) as ws:
        assert close_code(ws) == 4401


def test_query_token_and_session_cookie_are_accepted(server: LiveServer) -> None:
    with server.connect(token=None, query=f"?token={ADMIN_TOKEN}") as ws:
        assert subscribe(ws, "runs") == 0
    login = httpx.post(
        f"http://127.0.0.1:{server.port}/api/v1/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
    )
    assert login.status_code == 200
    cookie = f"vy_session={login.cookies['vy_session']}"
    with server.connect(token=None, additional_headers={"Cookie": cookie}) as ws:
        assert subscribe(ws, "agents") == 0


def test_foreign_origin_is_closed_before_any_data(server: LiveServer) -> None:
    with server.connect(origin="https://evil.example") as ws:
        assert close_code(ws) == 4403
    with server.connect(origin="null") as ws:
        assert close_code(ws) == 4403
    # Same origin as the server (the Host header) is the dashboard's own UI.
    with server.connect(origin=f"http://127.0.0.1:{server.port}") as ws:
        assert subscribe(ws, "runs") == 0
    # Foreign origin is refused even with no credentials to check.
    with server.connect(token=None, origin="http://127.0.0.1:1") as ws:
        assert close_code(ws) == 4403


def test_configured_cors_origin_may_connect(
    sqlite_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app = create_app(settings_factory(sqlite_url, cors_origins="https://ui.example.com"))
    for live in serve(app):
        with live.connect(origin="https://ui.example.com") as ws:
            assert subscribe(ws, "runs") == 0
        with live.connect(origin="https://ui.example.com.evil.example") as ws:
            assert close_code(ws) == 4403


@pytest.mark.parametrize(
    ("origin", "host", "ok"),
    [
        ("http://localhost:8000", "localhost:8000", True),
        ("https://dash.example", "dash.example", True),
        ("https://dash.example", "dash.example:443", True),
        ("http://dash.example", "dash.example:8000", False),
        ("http://localhost:8001", "localhost:8000", False),
        ("http://localhost.evil:8000", "localhost:8000", False),
        ("null", "localhost:8000", False),
        ("file://", "localhost:8000", False),
        ("http://[::1]:8000", "[::1]:8000", True),
        ("http://x:notaport", "x:8000", False),
        ("https://ui.example.com/", None, True),  # configured (trailing slash ignored)
        ("http://localhost:8000", None, False),
    ],
)
def test_origin_allowed(origin: str, host: str | None, ok: bool) -> None:
    assert origin_allowed(origin, host=host, allowed=["https://UI.example.com"]) is ok


def test_revoked_token_closes_an_open_socket(server: LiveServer) -> None:
    server.bus.ping_interval = 0.05  # credentials are re-checked every ping interval
    base = f"http://127.0.0.1:{server.port}/api/v1"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    created = httpx.post(f"{base}/tokens", json={"name": "ws"}, headers=admin).json()
    with server.connect(token=created["token"]) as ws:
        assert subscribe(ws, "runs") == 0
        assert json.loads(ws.recv(timeout=5)) == {"type": "ping"}
        revoked = httpx.delete(f"{base}/tokens/{created['id']}", headers=admin)
        assert revoked.status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                assert json.loads(ws.recv(timeout=5)) == {"type": "ping"}
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


# ---- bad messages, ping/pong ---------------------------------------------------------------------


def test_bad_messages_get_errors_and_the_socket_survives(server: LiveServer) -> None:
    run_id = server.run_id()
    cases: list[tuple[str | bytes, str]] = [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"op": "dance"}', "unknown op 'dance'"),
        ('{"topic": "runs"}', "unknown op"),
        ('{"op": "subscribe"}', "needs a 'topic'"),
        ('{"op": "subscribe", "topic": 5}', "must be a string"),
        ('{"op": "subscribe", "topic": "jobs"}', "unknown topic 'jobs'"),
        ('{"op": "subscribe", "topic": "run:0"}', "unknown topic"),
        ('{"op": "subscribe", "topic": "run:007"}', "without leading zeros"),
        ('{"op": "subscribe", "topic": "run:99999999999"}', "unknown topic"),
        ('{"op": "subscribe", "topic": "run:1\\u0000"}', "unknown topic"),
        ('{"op": "subscribe", "topic": "runs", "after": -1}', "'after' must be null"),
        ('{"op": "subscribe", "topic": "runs", "after": "5"}', "'after' must be null"),
        ('{"op": "subscribe", "topic": "runs", "after": true}', "'after' must be null"),
        ('{"op": "subscribe", "topic": "runs", "after": 1e400}', "'after' must be null"),
        ('{"op": "subscribe", "topic": "runs", "after": 99999999999999999999}', "'after'"),
        ('{"op": "subscribe", "topic": "run:2147483647"}', "run 2147483647 does not exist"),
        ("x" * 5000, "message too long"),
        (b"\x00\x01", "binary messages are not supported"),
    ]
    with server.connect() as ws:
        for frame, expected in cases:
            ws.send(frame)
            message = recv(ws)
            assert message["type"] == "error" and expected in message["message"], (frame, message)
        ws.send(json.dumps({"op": "ping"}))
        assert recv(ws) == {"type": "pong"}
        assert subscribe(ws, run_topic(run_id)) == 0  # still fully working
        ids = server.add_events(run_id, range(2))
        assert [m["seq"] for m in events(ws, 2)] == ids


def test_ping_pong_and_server_pings(server: LiveServer) -> None:
    server.bus.ping_interval = 0.05
    with server.connect() as ws:
        assert json.loads(ws.recv(timeout=5)) == {"type": "ping"}
        ws.send(json.dumps({"op": "pong"}))  # the optional answer is accepted silently
        ws.send(json.dumps({"op": "ping"}))
        assert recv(ws) == {"type": "pong"}


def test_connection_and_subscription_limits(server: LiveServer) -> None:
    server.bus.max_connections = 1
    with server.connect() as first:
        with server.connect() as second:
            assert close_code(second) == 1013  # try again later
        assert subscribe(first, "runs") == 0
    server.bus.max_connections = 1000
    server.bus.max_topics_per_connection = 2
    with server.connect() as ws:
        subscribe(ws, "runs")
        subscribe(ws, "agents")
        subscribe(ws, "runs", after=0)  # resubscribing an open topic is not a new one
        ws.send(json.dumps({"op": "subscribe", "topic": run_topic(1)}))
        message = recv(ws)
        assert message["type"] == "error" and "too many subscriptions" in message["message"]


# ---- slow consumers and shared polling ----------------------------------------------------------


def test_slow_client_is_lagged_while_others_receive_everything_promptly(app: FastAPI) -> None:
    for server in serve(app, send_buffer=32_768):
        run_id = server.run_id()
        topic = run_topic(run_id)
        big = {"log": "x" * 64_000}  # a few of these fill the socket buffers
        with server.connect(compression=None) as fast:
            subscribe(fast, topic)
            server.bus.queue_size = 4  # the next connection gets a tiny outbox
            # max_queue=1: the client library stops reading the socket after one frame.
            with server.connect(compression=None, max_queue=1) as slow:
                subscribe(slow, topic)
                written: list[int] = []
                for batch in range(12):  # 48 events, 3 MB, 12 commits; the slow one reads none
                    t0 = time.time()
                    ids = server.add_events(run_id, range(batch * 4, batch * 4 + 4), payload=big)
                    written += ids
                    assert [m["seq"] for m in events(fast, 4)] == ids
                    assert time.time() - t0 < 1.0
                # Now read the slow client: a contiguous prefix, then `lagged` right after it.
                got: list[int] = []
                while (message := recv(slow))["type"] == "event":
                    got.append(message["seq"])
                assert message == {"type": "lagged", "topic": topic, "seq": got[-1]}
                assert 0 < len(got) < len(written) and got == written[: len(got)]
                # It catches up by resubscribing from where it stopped.
                subscribe(slow, topic, after=got[-1])
                rest = [m["seq"] for m in events(slow, len(written) - len(got))]
                assert got + rest == written


def test_fan_out_never_blocks_and_lags_only_the_full_outbox() -> None:
    async def scenario() -> None:
        hub = Hub(control_headroom=4)
        slow, fast = hub.connect(3), hub.connect(100)
        slow_sub = hub.subscribe(slow, "runs", after=None, initial_cursor=10)
        fast_sub = hub.subscribe(fast, "runs", after=None, initial_cursor=None)
        assert hub.cursors() == {"runs": 10}
        fast_seen = [await fast.get()]  # "subscribed"
        for seq in range(11, 21):
            hub.publish("runs", [Event(seq, f"e{seq}")])
            fast_seen.append(await fast.get())
        hub.publish("runs", [Event(20, "dup")])  # already published: skipped
        assert fast_seen[1:] == [f"e{s}" for s in range(11, 21)] and fast_sub.active
        assert not slow_sub.active and hub.cursors() == {"runs": 20}
        slow_seen = [await slow.get() for _ in range(len(slow))]
        # Capacity 3 counts the queued "subscribed"; the lagged notice uses the headroom.
        assert slow_seen[1:] == ["e11", "e12", '{"type":"lagged","topic":"runs","seq":12}']
        hub.disconnect(fast, [fast_sub])
        assert hub.cursors() == {}  # no subscribers: the bus stops polling the topic

    asyncio.run(scenario())


def test_client_that_never_reads_even_control_messages_is_closed() -> None:
    async def scenario() -> None:
        outbox = Hub(control_headroom=2).connect(2)
        assert outbox.offer("e1") and outbox.offer("e2") and not outbox.offer("e3")
        assert outbox.control("pong") and outbox.control("pong")
        assert not outbox.control("pong")  # headroom used up as well
        assert outbox.closed and outbox.close_code == 1013
        assert await outbox.get() is None  # the writer stops; the socket closes

    asyncio.run(scenario())


def test_outbox_is_bounded_by_characters_as_well_as_messages() -> None:
    """Big messages (a chunk of metric points is one) fill an outbox before its message count
    does; one always fits in an empty outbox, and reading frees the room again."""

    async def scenario() -> None:
        outbox = Outbox(capacity=100, headroom=2, max_chars=10_000)
        big = "x" * 4_000
        assert outbox.offer(big) and outbox.offer(big) and outbox.offer(big)  # 12,000 chars
        assert not outbox.offer("small")  # over the character budget, though 3 < 100 messages
        assert outbox.control("pong")  # control messages still fit (message headroom)
        assert await outbox.get() == big
        assert await outbox.get() == big  # 4,000 + "pong" waiting: room again
        assert outbox.offer("small")
        alone = Outbox(capacity=100, headroom=2, max_chars=10)
        assert alone.offer("y" * 1_000)  # bigger than the budget, but the outbox was empty
        assert not alone.offer("z")
        waited = asyncio.create_task(alone.wait_space())
        await asyncio.sleep(0)
        assert not waited.done()  # a paced backfill waits for the client to read
        assert await alone.get() == "y" * 1_000
        assert await waited

    asyncio.run(scenario())


def test_one_query_per_topic_per_poll_whatever_the_subscriber_count(server: LiveServer) -> None:
    run_id = server.run_id()
    statements: list[str] = []
    engine = server.app.state.vy.engine

    def count(_conn, _cursor, statement: str, *_args: Any) -> None:  # noqa: ANN001
        if "FROM run_events" in statement:
            statements.append(statement)

    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(server.connect()) for _ in range(6)]
        for ws in clients:
            subscribe(ws, run_topic(run_id))
        event.listen(engine, "before_cursor_execute", count)
        try:
            start = server.bus.polls
            ids = server.add_events(run_id, range(3))
            for ws in clients:
                assert [m["seq"] for m in events(ws, 3)] == ids
            deadline = time.monotonic() + 5
            while server.bus.polls < start + 10 and time.monotonic() < deadline:
                time.sleep(0.01)
            polls = server.bus.polls - start
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert polls >= 10
    assert len(statements) <= polls + 1, (len(statements), polls)


# ---- PostgreSQL: LISTEN/NOTIFY wake-ups and commit order -----------------------------------------


def test_postgres_notify_wakes_the_bus_without_waiting_for_a_poll(
    pg_url: str, settings_factory: Callable[..., Settings]
) -> None:
    app = create_app(settings_factory(pg_url, events_poll_interval=30))
    for live in serve(app):
        listener = live.bus.listener
        assert listener is not None
        deadline = time.monotonic() + 10
        while not listener.listening.is_set():
            assert time.monotonic() < deadline, "LISTEN never started"
            time.sleep(0.01)
        run_id = live.run_id()
        with live.connect() as ws:
            subscribe(ws, run_topic(run_id))
            for step in range(3):
                with app.state.vy.sessions() as session, session.begin():
                    session.add(
                        RunEvent(
                            run_id=run_id,
                            attempt=1,
                            kind="log",
                            name="info",
                            payload={"message": f"hello {step}"},
                            dedupe_key=f"1:log:{step}",
                            created_at=time.time(),
                        )
                    )
                    notify_topic(session, run_topic(run_id))
                committed = time.time()
                (message,) = events(ws, 1, timeout=2.0)
                assert message["data"]["payload"] == {"message": f"hello {step}"}
                assert time.time() - committed < 1.0


def test_postgres_rows_committed_out_of_id_order_are_neither_lost_nor_reordered(
    pg_server: LiveServer, pg_url: str
) -> None:
    run_id = pg_server.run_id()
    engine = make_engine(pg_url)
    row = {
        "run_id": run_id,
        "attempt": 1,
        "kind": "log",
        "payload": {},
        "created_at": 0.0,
    }
    try:
        with pg_server.connect() as ws:
            subscribe(ws, run_topic(run_id))
            slow_tx = engine.connect()
            slow_tx.begin()
            early = slow_tx.execute(
                insert(RunEvent).values(**row, dedupe_key="a").returning(RunEvent.id)
            ).scalar_one()
            with engine.begin() as conn:  # takes a higher id, commits first
                late = conn.execute(
                    insert(RunEvent).values(**row, dedupe_key="b").returning(RunEvent.id)
                ).scalar_one()
            assert late > early
            # While the lower id is uncommitted, the higher one is held back (a poller that
            # delivered it would move past `early` and never deliver it).
            with pytest.raises(TimeoutError):
                unexpected = recv(ws, timeout=0.5)
                pytest.fail(f"delivered while a lower id was uncommitted: {unexpected}")
            slow_tx.commit()
            slow_tx.close()
            assert [m["seq"] for m in events(ws, 2)] == [early, late]
    finally:
        engine.dispose()


def test_postgres_a_transaction_left_open_delays_delivery_only_briefly(
    pg_server: LiveServer, pg_url: str
) -> None:
    assert pg_server.bus.horizon is not None
    pg_server.bus.horizon.max_settle = 0.3
    run_id, other_run = pg_server.run_id(), pg_server.run_id()
    engine = make_engine(pg_url)
    try:
        with pg_server.connect() as ws, engine.connect() as stuck:
            subscribe(ws, run_topic(run_id))
            stuck.begin()  # "idle in transaction" holding an event id, never committed
            stuck.execute(
                insert(RunEvent).values(
                    run_id=other_run,
                    attempt=1,
                    kind="log",
                    payload={},
                    dedupe_key="x",
                    created_at=0,
                )
            )
            ids = pg_server.add_events(run_id, range(2))
            assert [m["seq"] for m in events(ws, 2, timeout=3.0)] == ids
            stuck.rollback()
    finally:
        engine.dispose()


def test_postgres_listen_sql_channel_contract(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            conn.execute(text("LISTEN visionyard_events"))
            conn.commit()
            with Session(engine) as session, session.begin():
                notify_topic(session, run_topic(7))
            raw = conn.connection.driver_connection
            assert raw is not None
            got = [(n.channel, n.payload) for n in raw.notifies(timeout=5, stop_after=1)]
            assert got == [("visionyard_events", run_topic(7))]
    finally:
        engine.dispose()
