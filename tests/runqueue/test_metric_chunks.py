"""Metric points in chunks: packing, one chunk per batch and metric, merges of small chunks
that keep the live sequence valid, idempotent redelivery, reads by window."""

from __future__ import annotations

import numpy as np
from sqlalchemy import func, select

from visionyard.dashboard.events.messages import Topic
from visionyard.dashboard.events.store import events_after
from visionyard.db.models import RunEvent
from visionyard.runqueue import claim_next, write_events
from visionyard.runqueue.metric_chunks import (
    CHUNK_POINTS,
    MERGE_AT,
    NO_EPOCH,
    chunk_rows,
    read_points,
    records,
    unpack,
)

from .queuedb import QueueDB


def _running(q: QueueDB) -> tuple[int, int]:
    agent = q.agent()
    run_id = q.enqueue()
    assert claim_next(q.factory, agent_id=agent, capacity=0) is not None
    return run_id, agent


def _steps(first: int, count: int) -> list[dict]:
    return [
        {"seq": s, "time": 100.0 + s, "type": "train_step", "step": s, "epoch": s // 50,
         "loss": 1.0 / s, "lr": 0.1}
        for s in range(first, first + count)
    ]  # fmt: skip


def _chunks(q: QueueDB, run_id: int, name: str = "train/step_loss") -> list[tuple[int, int, int]]:
    """(id, first step, points) of each chunk of `name`, by step."""
    with q.factory() as session:
        rows = session.execute(
            select(RunEvent.id, RunEvent.step, RunEvent.points)
            .where(RunEvent.run_id == run_id, RunEvent.kind == "metric", RunEvent.name == name)
            .order_by(RunEvent.step)
        ).all()
    return [(row_id, step, len(unpack(points))) for row_id, step, points in rows]


def test_pack_keeps_gaps_and_missing_epochs() -> None:
    stored = unpack(
        records([1, 2, 5], [0.5, None, -1e300], [10.0, 11.5, 12.0], [0, None, 3]).tobytes()
    )
    assert stored["step"].tolist() == [1, 2, 5]
    assert stored["value"][0] == 0.5 and np.isnan(stored["value"][1])
    assert stored["value"][2] == -1e300
    assert stored["time"].tolist() == [10.0, 11.5, 12.0]
    assert stored["epoch"].tolist() == [0, NO_EPOCH, 3]
    assert stored.dtype.itemsize == 28  # the stored cost of a point, before compression


def test_a_batch_is_one_chunk_per_metric_and_reads_back_in_step_order(q: QueueDB) -> None:
    run_id, agent = _running(q)
    batch = _steps(1, 30)
    batch.reverse()  # the order within a batch does not matter
    assert write_events(q.factory, run_id, 1, batch, agent_id=agent) == 60
    assert _chunks(q, run_id) == [(_chunks(q, run_id)[0][0], 1, 30)]
    with q.factory() as session:
        points = read_points(session, [run_id], ["train/step_loss", "train/lr", "val/none"])
    loss = points[(run_id, "train/step_loss")]
    assert loss.steps.tolist() == list(range(1, 31))
    assert loss.value_list() == [1.0 / s for s in range(1, 31)]
    assert loss.times.tolist() == [100.0 + s for s in range(1, 31)]
    assert loss.epoch_list() == [s // 50 for s in range(1, 31)]
    assert set(points) == {(run_id, "train/step_loss"), (run_id, "train/lr")}


def test_small_chunks_merge_under_the_newest_id_and_nothing_is_sent_twice_live(
    q: QueueDB,
) -> None:
    run_id, agent = _running(q)
    topic = Topic(f"run:{run_id}", run_id)
    seen: list[int] = []  # a live subscriber's cursor, checked after every batch
    live_steps: list[int] = []
    for batch in range(40):  # 40 batches of 3 steps, each batch a commit
        write_events(q.factory, run_id, 1, _steps(1 + 3 * batch, 3), agent_id=agent)
        with q.factory() as session:
            after = seen[-1] if seen else 0
            new = events_after(session, topic, after=after, upto=None, limit=1000)
        seen += [e.seq for e in new]
        # Two chunks a batch (loss and lr), holding just that batch's points: a merge never
        # sends a live subscriber points again.
        assert len(new) == 2, batch
        live_steps += [
            s for e in new if '"train/step_loss"' in e.text for s in _message_steps(e.text)
        ]
        assert live_steps == list(range(1, 3 * batch + 4))
        chunks = _chunks(q, run_id)
        assert sum(n for _, _, n in chunks) == 3 * (batch + 1)
        assert len(chunks) < MERGE_AT + 1
    chunks = _chunks(q, run_id)
    assert len(chunks) < 40 and all(n <= CHUNK_POINTS for _, _, n in chunks)
    # Each chunk has the id of the newest batch it holds: the seqs the subscriber was sent.
    assert {row_id for row_id, _, _ in chunks} <= set(seen)
    with q.factory() as session:
        loss = read_points(session, [run_id], ["train/step_loss"])[(run_id, "train/step_loss")]
        # A client catching up from an old seq gets the merged chunks whole, in seq order.
        replay = events_after(session, Topic(f"run:{run_id}", run_id), after=seen[5], upto=None,
                              limit=1000)  # fmt: skip
    assert loss.steps.tolist() == list(range(1, 121))
    assert [e.seq for e in replay] == sorted(e.seq for e in replay)
    replayed_steps = {
        step for e in replay if '"train/step_loss"' in e.text
        for step in _message_steps(e.text)
    }  # fmt: skip
    assert set(range(10, 121)) <= replayed_steps  # everything after the cursor, maybe more


def _message_steps(text: str) -> list[int]:
    import json

    return json.loads(text)["data"]["payload"]["steps"]


def test_big_batches_are_split_and_full_chunks_are_left_alone(q: QueueDB) -> None:
    run_id, agent = _running(q)
    write_events(q.factory, run_id, 1, _steps(1, 2500), agent_id=agent)  # an import-sized batch
    assert [n for _, _, n in _chunks(q, run_id)] == [CHUNK_POINTS, CHUNK_POINTS, 452]
    for first in range(2501, 2601, 10):
        write_events(q.factory, run_id, 1, _steps(first, 10), agent_id=agent)
    sizes = [n for _, _, n in _chunks(q, run_id)]
    assert sizes[:2] == [CHUNK_POINTS, CHUNK_POINTS] and sum(sizes) == 2600
    assert all(n <= CHUNK_POINTS for n in sizes)


def test_redelivered_and_overlapping_batches_store_only_new_steps(q: QueueDB) -> None:
    run_id, agent = _running(q)
    for first in range(1, 200, 10):
        write_events(q.factory, run_id, 1, _steps(first, 10), agent_id=agent)
    with q.factory() as session:
        before = session.scalar(select(func.count()).select_from(RunEvent))
    # An old batch again (after merges), then one overlapping the last stored step.
    assert write_events(q.factory, run_id, 1, _steps(51, 10), agent_id=agent) == 0
    assert write_events(q.factory, run_id, 1, _steps(195, 10), agent_id=agent) == 8
    with q.factory() as session:
        after = session.scalar(select(func.count()).select_from(RunEvent))
        loss = read_points(session, [run_id], ["train/step_loss"])[(run_id, "train/step_loss")]
    assert after <= before + 2
    assert loss.steps.tolist() == list(range(1, 205))


def test_reads_touch_only_the_chunks_of_the_window(q: QueueDB) -> None:
    run_id, agent = _running(q)
    write_events(q.factory, run_id, 1, _steps(1, 3000), agent_id=agent)
    with q.factory() as session:
        found = read_points(session, [run_id], ["train/lr"], step_min=1020, step_max=1030)
    lr = found[(run_id, "train/lr")]
    assert lr.steps.tolist() == list(range(1020, 1031))  # across a chunk boundary (1024/1025)


def test_chunk_rows_of_several_attempts_and_metrics(q: QueueDB) -> None:
    run_id, _ = _running(q)
    rows = [
        {"attempt": a, "name": n, "step": s, "value": float(s), "created_at": 1.0,
         "payload": {"epoch": 1}}
        for a in (1, 2) for n in ("a", "b") for s in range(5)
    ]  # fmt: skip
    chunks = chunk_rows(run_id, rows)
    assert sorted((c["attempt"], c["name"], c["step"], c["last_step"]) for c in chunks) == [
        (1, "a", 0, 4), (1, "b", 0, 4), (2, "a", 0, 4), (2, "b", 0, 4),
    ]  # fmt: skip
    assert len({c["dedupe_key"] for c in chunks}) == 4
