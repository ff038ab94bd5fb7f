"""Comparing runs: aligned metric columns and a config diff, for the compare view.

Included before the runs router: `/runs/compare` would otherwise be read as `/runs/{run_id}`.
Semantics: `visionyard.dashboard.services.run_compare`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, Field

from visionyard.dashboard.access import CurrentUser, visible_project_ids
from visionyard.dashboard.deps import SessionDep
from visionyard.dashboard.schemas.common import MAX_ID
from visionyard.dashboard.schemas.run_compare import (
    CompareColumn,
    ComparedMetric,
    ComparedRun,
    ConfigComparison,
    ConfigDifference,
    RunComparison,
)
from visionyard.dashboard.schemas.run_summary import RunSummaryOut
from visionyard.dashboard.services import run_compare as service
from visionyard.dashboard.services.run_keys import METRIC_NAME

router = APIRouter(tags=["runs"])


def _distinct(ids: list[int]) -> list[int]:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"each run once: {', '.join(map(str, repeated))} given more than once")
    return ids


RunIds = Annotated[
    list[Annotated[int, Field(ge=1, le=MAX_ID)]],
    Query(
        min_length=service.MIN_RUNS,
        max_length=service.MAX_RUNS,
        description=f"The runs, {service.MIN_RUNS} to {service.MAX_RUNS} distinct ids "
        "(repeat the parameter: ids=1&ids=2); columns follow this order.",
        json_schema_extra={"uniqueItems": True},
    ),
    AfterValidator(_distinct),
]
MetricNames = Annotated[
    list[Annotated[str, Field(max_length=128, pattern=METRIC_NAME.pattern.join("^$"))]] | None,
    Query(
        max_length=service.MAX_METRICS,
        description="Metrics to align (default: every per-epoch metric the runs logged), e.g. "
        "val/acc@1. With by=epoch only per-epoch metrics (<train|val|test>/<metric>).",
    ),
]


@router.get("/runs/compare", operation_id="compareRuns", response_model=RunComparison)
def compare_runs(
    user: CurrentUser,
    session: SessionDep,
    ids: RunIds,
    metrics: MetricNames = None,
    by: Annotated[
        Literal["epoch", "step", "time"],
        Query(
            description="Rows: one per epoch, one per optimizer step, or one per whole second "
            "since the run's first metric point."
        ),
    ] = "epoch",
    max_rows: Annotated[
        int, Query(ge=10, le=10_000, description="More rows are thinned to evenly spaced ones.")
    ] = 1000,
) -> RunComparison:
    """N runs side by side: each metric of each run as a column aligned on epochs (or steps, or
    seconds of wall time),
    nulls where a run has no point, and the config fields whose values differ.

    404 names every unknown run id; 422 for fewer than 2 or more than 20 runs, a repeated id,
    or a per-step metric with by=epoch."""
    found = service.compare_runs(
        session,
        ids,
        metrics or [],
        by,
        max_rows,
        visible_projects=visible_project_ids(session, user),
    )
    return RunComparison(
        runs=[
            ComparedRun(
                id=run.id,
                name=run.name,
                state=run.state,
                project_id=run.project_id,
                config_hash=run.config_hash,
                summary=RunSummaryOut.model_validate(summary),
            )
            for run, summary in found.runs
        ],
        by=found.by,
        x=found.x,
        total_rows=found.total_rows,
        downsampled=found.downsampled,
        metrics=[ComparedMetric(name=m.name, direction=m.direction) for m in found.metrics],
        columns=[
            CompareColumn(run_id=c.run_id, metric=c.metric, values=c.values) for c in found.columns
        ],
        config=ConfigComparison(
            differing=[ConfigDifference(key=d.key, values=d.values) for d in found.differing],
            same=found.same,
        ),
    )
