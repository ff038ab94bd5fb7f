"""Per-metric run summaries kept by `write_events`: extremes and the last point of the current
points, on both backends, through the real queue functions."""

from __future__ import annotations

import math

from sqlalchemy import select

from visionyard.db.models import RunMetricSummary
from visionyard.runqueue import claim_next, finish_run, write_events
from visionyard.runqueue.metric_summary import Point, Summary, current_points

from .queuedb import QueueDB


def _val(step: int, epoch: int, seq: int = 0, **values: float) -> dict:
    return {"type": "metrics", "split": "val", "epoch": epoch, "step": step, "values": values}


def _loss(step: int, loss: float) -> dict:
    return {"type": "train_step", "step": step, "epoch": 0, "loss": loss, "lr": 1e-3}


def _summaries(q: QueueDB, run_id: int) -> dict[str, RunMetricSummary]:
    with q.factory() as session:
        rows = session.scalars(
            select(RunMetricSummary).where(RunMetricSummary.run_id == run_id)
        ).all()
        session.expunge_all()
    return {row.name: row for row in rows}


def _claim(q: QueueDB, agent: int, attempt: int) -> None:
    claimed = claim_next(q.factory, agent_id=agent, capacity=0)
    assert claimed is not None and claimed.attempt == attempt


def test_batches_fold_into_one_summary_per_metric(q: QueueDB) -> None:
    agent, run_id = q.agent(), q.enqueue()
    _claim(q, agent, 1)
    write_events(q.factory, run_id, 1, [_val(10, 1, **{"acc@1": 0.5, "loss": 1.0})])
    write_events(q.factory, run_id, 1, [_val(20, 2, **{"acc@1": 0.8, "loss": 0.4})])
    write_events(q.factory, run_id, 1, [_val(30, 3, **{"acc@1": 0.7, "loss": math.nan})])
    # A batch delivered again changes nothing.
    write_events(q.factory, run_id, 1, [_val(20, 2, **{"acc@1": 0.8, "loss": 0.4})])
    acc, loss = _summaries(q, run_id)["val/acc@1"], _summaries(q, run_id)["val/loss"]
    assert (acc.max_value, acc.max_step, acc.min_value, acc.min_step) == (0.8, 20, 0.5, 10)
    assert (acc.last_value, acc.last_step, acc.last_epoch) == (0.7, 30, 3)
    # A diverged (non-finite) last value is a null last value, not an extreme.
    assert (loss.last_value, loss.last_step, loss.min_value, loss.max_value) == (None, 30, 0.4, 1.0)


def test_a_resumed_attempt_supersedes_the_steps_it_redid(q: QueueDB) -> None:
    agent, run_id = q.agent(), q.enqueue(max_restarts=2)
    _claim(q, agent, 1)
    write_events(q.factory, run_id, 1, [_loss(s, 0.1 * s) for s in (1, 2, 3, 4)])
    finish_run(q.factory, run_id, 1, agent, "crashed", "killed")
    _claim(q, agent, 2)
    # Attempt 2 resumed from step 2: attempt 1's steps 3 and 4 (0.3, 0.4) no longer count.
    write_events(q.factory, run_id, 2, [_loss(3, 0.25)])
    loss = _summaries(q, run_id)["train/step_loss"]
    assert (loss.attempt, loss.first_step, loss.last_step, loss.last_value) == (2, 3, 3, 0.25)
    assert (loss.min_value, loss.max_value, loss.max_step) == (0.1, 0.25, 3)
    write_events(q.factory, run_id, 2, [_loss(4, 0.05)])
    loss = _summaries(q, run_id)["train/step_loss"]
    assert (loss.min_value, loss.min_step, loss.last_step, loss.first_step) == (0.05, 4, 4, 3)


def test_a_new_attempt_past_the_last_step_merges_without_rereading(q: QueueDB) -> None:
    agent, run_id = q.agent(), q.enqueue(max_restarts=2)
    _claim(q, agent, 1)
    write_events(q.factory, run_id, 1, [_val(10, 1, **{"acc@1": 0.9})])
    finish_run(q.factory, run_id, 1, agent, "crashed", "killed")
    _claim(q, agent, 2)
    write_events(q.factory, run_id, 2, [_val(20, 2, **{"acc@1": 0.6})])
    acc = _summaries(q, run_id)["val/acc@1"]
    assert (acc.attempt, acc.first_step, acc.max_value, acc.last_value) == (2, 20, 0.9, 0.6)


def test_summary_of_points_and_merge_agree() -> None:
    """The incremental merge gives what summarising every point at once gives."""
    points = [Point(s, v, s // 10) for s, v in [(1, 3.0), (2, None), (3, 1.0), (4, 3.0), (5, 2.0)]]
    whole = Summary.of(1, points)
    folded = Summary.of(1, points[:2]).merged(Summary.of(1, points[2:]))
    assert whole == folded
    assert (whole.low, whole.high) == (Point(3, 1.0, 0), Point(1, 3.0, 0))  # earliest best
    assert current_points([(1, 1, "a"), (2, 1, "b"), (2, 2, "c")]) == [(1, "a"), (2, "c")]
