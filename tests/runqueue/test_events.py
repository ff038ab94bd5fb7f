"""Event storage: the row mapping, idempotent re-delivery (R15), progress, checkpoint records."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import select

from visionyard.dashboard.repositories.runs import metric_names
from visionyard.db.models import CheckpointRecord, RunEvent
from visionyard.runqueue import claim_next, event_rows, finish_run, record_checkpoint, write_events
from visionyard.runqueue.events import RUN_EVENT_KINDS
from visionyard.runqueue.metric_chunks import read_points
from visionyard.training.eventlog import EVENT_TYPES

from .queuedb import QueueDB


def _batch(step: int, seq: int) -> list[dict]:
    return [
        {"seq": seq, "time": 10.0, "type": "train_step", "step": step, "epoch": 0, "loss": 2.5,
         "lr": 1e-3},
        {"seq": seq + 1, "time": 11.0, "type": "metrics", "split": "val", "epoch": 0,
         "step": step, "values": {"accuracy": 0.5, "loss": 1.25}},
        {"seq": seq + 2, "time": 12.0, "type": "log", "level": "info", "message": "hello"},
        {"seq": seq + 3, "time": 13.0, "type": "checkpoint", "name": "last",
         "path": "checkpoints/last", "epoch": 0, "step": step, "metric": None},
    ]  # fmt: skip


def _rows(q: QueueDB, run_id: int) -> list[RunEvent]:
    with q.factory() as session:
        stmt = select(RunEvent).where(RunEvent.run_id == run_id).order_by(RunEvent.id)
        rows = list(session.execute(stmt).scalars())
        session.expunge_all()
        return rows


def _points(q: QueueDB, run_id: int) -> list[tuple[int, str, int, float | None, int | None]]:
    """The run's stored metric points: (attempt, name, step, value, epoch), by name and step."""
    with q.factory() as session:
        found = read_points(session, [run_id], metric_names(session, run_id))
    return sorted(
        (attempt, name, step, value, epoch)
        for (_, name), p in found.items()
        for attempt, step, value, epoch in zip(
            p.attempts.tolist(), p.steps.tolist(), p.value_list(), p.epoch_list(), strict=True
        )
    )


def _running(q: QueueDB) -> tuple[int, int]:
    agent = q.agent()
    run_id = q.enqueue()
    assert claim_next(q.factory, agent_id=agent, capacity=0) is not None
    return run_id, agent


def test_event_rows_mapping() -> None:
    rows = event_rows(5, 2, _batch(step=40, seq=100), now=99.0)
    by_key = {r["dedupe_key"]: r for r in rows}
    assert sorted(by_key) == [
        "2:checkpoint:103",
        "2:log:102",
        "2:m:40:train/lr",
        "2:m:40:train/step_loss",
        "2:m:40:val/accuracy",
        "2:m:40:val/loss",
    ]
    acc = by_key["2:m:40:val/accuracy"]
    assert (acc["kind"], acc["name"], acc["step"], acc["value"]) == (
        "metric",
        "val/accuracy",
        40,
        0.5,
    )
    assert (acc["run_id"], acc["attempt"], acc["created_at"]) == (5, 2, 11.0)
    assert acc["payload"] == {"epoch": 0}
    assert by_key["2:m:40:train/step_loss"]["value"] == 2.5
    log = by_key["2:log:102"]
    assert (log["kind"], log["name"], log["value"]) == ("log", "info", None)
    assert log["payload"]["message"] == "hello"
    ckpt = by_key["2:checkpoint:103"]
    assert (ckpt["kind"], ckpt["name"], ckpt["step"]) == ("checkpoint", "last", 40)


def test_event_rows_non_finite_and_unknown_types() -> None:
    rows = event_rows(
        1,
        1,
        [
            {"type": "train_step", "step": 3, "loss": math.nan, "lr": math.inf, "seq": 1},
            {"type": "metrics", "split": "val", "step": 3, "values": {"loss": None}, "seq": 2},
            {"type": "brand_new_type", "seq": 3, "x": -math.inf},
            {"type": "system", "seq": 4, "gpu_util": 0.5},
        ],
        now=7.0,
    )
    values = {r["name"]: r["value"] for r in rows if r["kind"] == "metric"}
    assert values == {"train/step_loss": None, "train/lr": None, "val/loss": None}
    other = next(r for r in rows if r["kind"] == "other")
    assert other["payload"] == {"type": "brand_new_type", "seq": 3, "x": None}
    assert other["created_at"] == 7.0  # no "time" field: stored at the relay's clock
    # System samples reach the queue as metrics named system/<sample>; a "system" event type
    # is not one the trainer writes, so it is kept as "other" like any unknown type.
    assert any(r["kind"] == "other" and r["dedupe_key"] == "1:other:4" for r in rows)


def test_every_trainer_event_type_is_stored_under_a_documented_kind_and_label() -> None:
    one_of_each = {
        "state": {"state": "running"},
        "log": {"level": "warning", "message": "careful"},
        "metrics": {"split": "val", "values": {"accuracy": 0.5}},
        "train_step": {"loss": 1.0, "lr": 0.1},
        "progress": {"epoch": 1, "epochs": 2, "total_steps": 8, "eta_s": 3.0},
        "checkpoint": {"name": "best", "path": "checkpoints/best", "epoch": 1, "metric": 0.5},
        "artifact": {"kind": "model", "path": "model"},
    }
    assert set(one_of_each) == EVENT_TYPES
    events = [
        {"type": kind, "seq": seq, "step": 4, **fields}
        for seq, (kind, fields) in enumerate(one_of_each.items(), start=1)
    ]
    rows = event_rows(1, 1, events, now=1.0)
    assert {r["kind"] for r in rows} | {"other"} == RUN_EVENT_KINDS
    names = {r["kind"]: r["name"] for r in rows if r["kind"] != "metric"}
    assert names == {
        "state": "running",
        "log": "warning",
        "progress": None,
        "checkpoint": "best",
        "artifact": "model",
    }


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"step": 1}, "without a string 'type'"),
        ({"type": "metrics", "values": {"a": 1.0}}, "without an integer 'step'"),
        ({"type": "log", "message": "x"}, "without an integer 'seq'"),
    ],
)
def test_event_rows_rejects_events_without_a_key(event: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        event_rows(1, 1, [event], now=0.0)


def test_same_batch_three_times_is_stored_once(q: QueueDB) -> None:
    run_id, agent = _running(q)
    batch = _batch(step=40, seq=100)
    counts = [write_events(q.factory, run_id, 1, batch, agent_id=agent) for _ in range(3)]
    assert counts == [6, 0, 0]
    assert [r.kind for r in _rows(q, run_id) if r.kind != "metric"] == ["log", "checkpoint"]
    points = _points(q, run_id)
    assert len(points) == len({p[:3] for p in points}) == 4
    # A batch overlapping the stored one stores only what is new.
    overlap = batch[2:] + _batch(step=41, seq=104)[:1]
    assert write_events(q.factory, run_id, 1, overlap) == 2


def test_next_attempt_metrics_at_the_same_step_are_stored_separately(q: QueueDB) -> None:
    run_id, agent = _running(q)
    write_events(q.factory, run_id, 1, _batch(step=40, seq=100))
    finish_run(q.factory, run_id, 1, agent, "crashed", "killed")
    assert claim_next(q.factory, agent_id=agent, capacity=0) is not None
    # The resumed trainer re-logs step 40 (it resumed from an earlier checkpoint).
    assert write_events(q.factory, run_id, 2, _batch(step=40, seq=104)) == 6
    points = [p for p in _points(q, run_id) if p[1] == "val/accuracy"]
    assert [(attempt, step) for attempt, _, step, _, _ in points] == [(1, 40), (2, 40)]


def test_non_finite_values_are_stored_as_null(q: QueueDB) -> None:
    run_id, _ = _running(q)
    event = {"type": "metrics", "split": "train", "step": 5, "values": {"loss": math.nan},
             "seq": 1, "extra": math.inf}  # fmt: skip
    assert write_events(q.factory, run_id, 1, [event, {**event, "type": "state", "seq": 2}]) == 2
    assert _points(q, run_id) == [(1, "train/loss", 5, None, None)]
    (state,) = [r for r in _rows(q, run_id) if r.kind == "state"]
    assert state.payload["extra"] is None


def test_progress_updates_the_run_and_never_goes_backwards(q: QueueDB) -> None:
    run_id, _ = _running(q)

    def progress(seq: int, step: int) -> dict:
        return {"type": "progress", "seq": seq, "time": 1.0, "epoch": 0, "epochs": 2,
                "step": step, "total_steps": 100, "eta_s": 9.5}  # fmt: skip

    write_events(q.factory, run_id, 1, [progress(1, 10), progress(2, 20)])
    assert q.run(run_id).progress == {
        "seq": 2, "time": 1.0, "epoch": 0, "epochs": 2, "step": 20, "total_steps": 100,
        "eta_s": 9.5, "attempt": 1,
    }  # fmt: skip
    write_events(q.factory, run_id, 1, [progress(1, 10)])  # late re-delivery of an old batch
    assert q.run(run_id).progress["step"] == 20
    write_events(q.factory, run_id, 1, [progress(3, 30)])
    assert q.run(run_id).progress["step"] == 30


def test_record_checkpoint_is_idempotent(q: QueueDB) -> None:
    run_id, agent = _running(q)
    first = record_checkpoint(q.factory, run_id, 1, "best", "checkpoints/best", 2, 300, 0.75)
    again = record_checkpoint(q.factory, run_id, 1, "best", "checkpoints/best", 2, 300, 0.75)
    assert first.id == again.id
    assert (first.name, first.path, first.epoch, first.step, first.metric) == (
        "best",
        "checkpoints/best",
        2,
        300,
        0.75,
    )
    assert first.attempt == 1 and first.created_at is not None
    assert (again.step, again.metric) == (300, 0.75)


def test_a_checkpoint_folder_saved_again_is_one_record_at_its_newest_save(q: QueueDB) -> None:
    """Every save rewrites `last` (and `best` when it improves) in place: a record per save
    listed 14 rows for 2 folders. One record per folder, moved to the newest save; a late
    re-delivery of an older save does not move it back."""
    run_id, agent = _running(q)
    for step in (100, 200, 300):
        record_checkpoint(q.factory, run_id, 1, "last", "checkpoints/last", step // 100, step, None)
    record_checkpoint(q.factory, run_id, 1, "best", "checkpoints/best", 2, 200, 0.75)
    later = record_checkpoint(
        q.factory, run_id, 1, "best", "checkpoints/best", 3, 300, math.nan, agent_id=agent
    )
    late = record_checkpoint(q.factory, run_id, 1, "last", "checkpoints/last", 1, 100, None)
    assert (later.step, later.epoch, later.metric) == (300, 3, None)
    assert (late.step, late.epoch) == (300, 3)  # the newer save stays
    with q.factory() as session:
        rows = session.scalars(
            select(CheckpointRecord).where(CheckpointRecord.run_id == run_id)
        ).all()
    assert sorted((r.name, r.step) for r in rows) == [("best", 300), ("last", 300)]
