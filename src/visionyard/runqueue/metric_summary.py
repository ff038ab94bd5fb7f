"""Each run's per-metric summary (`run_metric_summaries`): the extremes and the last point of the
metric's current points, kept up to date in the transaction that stores them.

Run lists sort and filter by a metric's best or last value, over thousands of runs, with one
join on this table instead of reading the points. Only the current points count, the same rule
as the metric series: a point of attempt A at step S is superseded when a later attempt logged
the metric at a step <= S (it resumed from an earlier checkpoint and redid those steps).

Updating is incremental (each batch merged into the stored row) except when a new attempt's
first point lands at or below the stored last step: then some stored points are superseded, and
that one metric is summarised again from its points (once per metric per resumed attempt).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.db.models import RunMetricSummary
from visionyard.runqueue._db import upsert_insert
from visionyard.runqueue.metric_chunks import payload_epoch, read_points

V = TypeVar("V")


def current_points(rows: Iterable[tuple[int, int, V]]) -> list[tuple[int, V]]:
    """One metric's (step, attempt, value) rows -> its current (step, value) points by step.

    A point of attempt A survives only below the first step of every later attempt (see the
    module docstring); within an attempt, steps are unique (the event dedupe key).
    """
    by_attempt: dict[int, list[tuple[int, V]]] = defaultdict(list)
    for step, attempt, value in rows:
        by_attempt[attempt].append((step, value))
    kept: list[tuple[int, V]] = []
    cutoff: float = float("inf")
    for attempt in sorted(by_attempt, reverse=True):
        points = by_attempt[attempt]
        kept.extend(p for p in points if p[0] < cutoff)
        cutoff = min(cutoff, min(step for step, _ in points))
    kept.sort(key=lambda p: p[0])
    return kept


@dataclass(frozen=True)
class Point:
    step: int
    value: float | None
    epoch: int | None


@dataclass(frozen=True)
class Summary:
    """What `run_metric_summaries` holds for one (run, metric)."""

    attempt: int
    first_step: int
    last: Point
    low: Point | None  # the minimum (None: every value was null)
    high: Point | None  # the maximum

    @classmethod
    def of(cls, attempt: int, points: list[Point]) -> Summary:
        """The summary of `points` (current points, at least one) of one metric."""
        finite = [p for p in points if p.value is not None]
        return cls(
            attempt=attempt,
            first_step=min(p.step for p in points),
            last=max(points, key=lambda p: p.step),
            # On ties the earliest step: the first time the best was reached.
            low=min(finite, key=lambda p: (p.value, p.step)) if finite else None,
            high=max(finite, key=lambda p: (p.value, -p.step)) if finite else None,
        )

    def merged(self, newer: Summary) -> Summary:
        """This summary and a batch of later points (none of them superseding these)."""
        low = [p for p in (self.low, newer.low) if p is not None]
        high = [p for p in (self.high, newer.high) if p is not None]
        return replace(
            self,
            attempt=newer.attempt,
            first_step=self.first_step if newer.attempt == self.attempt else newer.first_step,
            last=max(self.last, newer.last, key=lambda p: p.step),
            low=min(low, key=lambda p: (p.value, p.step)) if low else None,
            high=max(high, key=lambda p: (p.value, -p.step)) if high else None,
        )

    def row(self, run_id: int, name: str) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "name": name,
            "attempt": self.attempt,
            "first_step": self.first_step,
            "last_step": self.last.step,
            "last_value": self.last.value,
            "last_epoch": self.last.epoch,
            "min_value": self.low.value if self.low else None,
            "min_step": self.low.step if self.low else None,
            "max_value": self.high.value if self.high else None,
            "max_step": self.high.step if self.high else None,
        }


def stored_summaries(session: Session, run_id: int, names: Iterable[str]) -> dict[str, Summary]:
    """The stored summaries of these metrics of the run, by name (extremes without epochs)."""
    rows = session.scalars(
        select(RunMetricSummary).where(
            RunMetricSummary.run_id == run_id, RunMetricSummary.name.in_(list(names))
        )
    )
    stored = {}
    for r in rows:
        low = Point(r.min_step, r.min_value, None) if r.min_step is not None else None
        high = Point(r.max_step, r.max_value, None) if r.max_step is not None else None
        last = Point(r.last_step, r.last_value, r.last_epoch)
        stored[r.name] = Summary(r.attempt, r.first_step, last, low, high)
    return stored


def summarise_from_points(session: Session, run_id: int, name: str) -> Summary | None:
    """The summary of one metric of a run, from all its stored points."""
    points = read_points(session, [run_id], [name]).get((run_id, name))
    if points is None or not len(points):
        return None
    rows = zip(
        points.steps.tolist(),
        points.attempts.tolist(),
        points.value_list(),
        points.epoch_list(),
        strict=True,
    )
    current = current_points(
        (step, attempt, Point(step, value, epoch)) for step, attempt, value, epoch in rows
    )
    newest = int(points.attempts.max())
    first = int(points.steps[points.attempts == newest].min())
    return replace(Summary.of(newest, [p for _, p in current]), first_step=first)


def update_summaries(
    session: Session,
    run_id: int,
    attempt: int,
    rows: Iterable[Mapping[str, Any]],
    *,
    stored: Mapping[str, Summary] | None = None,
) -> None:
    """Fold the metric rows of one batch (`event_rows` output, already stored) into the run's
    summaries (`stored`: those summaries, when the caller has just read them). Call it with the
    run row locked (the fenced writers do): batches of one run are then merged one after the
    other."""
    batch: dict[str, list[Point]] = defaultdict(list)
    for row in rows:
        if row["kind"] == "metric" and row["step"] is not None:
            batch[row["name"]].append(
                Point(row["step"], row["value"], payload_epoch(row["payload"]))
            )
    if not batch:
        return
    if stored is None:
        stored = stored_summaries(session, run_id, batch)
    updated = []
    for name, points in batch.items():
        new = Summary.of(attempt, points)
        old = stored.get(name)
        if old is None:
            summary: Summary | None = new
        elif new.attempt > old.attempt and new.first_step <= old.last.step:
            summary = summarise_from_points(session, run_id, name)  # superseded points
        else:
            summary = old.merged(new)
        if summary is not None:
            updated.append(summary.row(run_id, name))
    table = RunMetricSummary.__table__
    statement = upsert_insert(session, table)
    columns = [c for c in updated[0] if c not in ("run_id", "name")]
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["run_id", "name"],
            set_={c: statement.excluded[c] for c in columns},
        ),
        updated,
    )
