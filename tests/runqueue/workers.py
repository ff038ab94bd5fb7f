"""Claimer processes for the multi-process queue tests (importable by spawned children)."""

from __future__ import annotations

import traceback
from typing import Any

from visionyard.db.engine import make_engine, make_session_factory
from visionyard.runqueue import claim_next, finish_run


def claim_until_empty(url: str, agent_id: int, barrier: Any, out: Any) -> None:
    """Claim and finish runs until none is left; report (agent_id, claimed ids, errors).

    Every exception is reported, not raised: the parent asserts there were none (R2 requires
    that no "database is locked" ever reaches a caller).
    """
    claimed: list[int] = []
    errors: list[str] = []
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        barrier.wait(timeout=60)
        while (run := claim_next(factory, agent_id=agent_id, capacity=0)) is not None:
            claimed.append(run.id)
            finish_run(factory, run.id, run.attempt, agent_id, "succeeded")
    except BaseException:  # noqa: BLE001 - reported to the parent
        errors.append(traceback.format_exc())
    finally:
        engine.dispose()
        out.put((agent_id, claimed, errors))
