"""`/api/v1/ws`: live events over a WebSocket (protocol: `visionyard.dashboard.events`).

The handshake is checked before anything is read or sent: a foreign Origin closes with 4403,
missing or bad credentials with 4401. The socket is accepted only so that the close code
reaches the client (browsers cannot see the status of a refused handshake); no data is sent.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.concurrency import run_in_threadpool

from visionyard.dashboard.access import LiveAccess
from visionyard.dashboard.deps import websocket_principal
from visionyard.dashboard.events import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, EventBus
from visionyard.dashboard.events.origin import origin_allowed
from visionyard.dashboard.state import AppState
from visionyard.errors import AuthenticationError, PermissionDeniedError

router = APIRouter(tags=["events"])


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.accept()
    # Close reasons are limited to 123 bytes by the protocol.
    await websocket.close(code, reason.encode("utf-8")[:123].decode("utf-8", "ignore"))


@router.websocket("/ws", name="liveEvents")
async def live_events(websocket: WebSocket) -> None:
    state: AppState = websocket.app.state.vy
    origin = websocket.headers.get("origin")
    if origin is not None and not origin_allowed(
        origin, host=websocket.headers.get("host"), allowed=state.settings.cors_origins
    ):
        await _refuse(
            websocket, CLOSE_FORBIDDEN, "origin not allowed; add it to DASHBOARD_CORS_ORIGINS"
        )
        return
    viewer = LiveAccess(state, lambda: websocket_principal(websocket, state))
    try:
        # Token and session lookups are blocking database reads.
        await run_in_threadpool(viewer.load)
    except AuthenticationError as exc:
        await _refuse(websocket, CLOSE_UNAUTHENTICATED, str(exc))
        return
    except PermissionDeniedError as exc:  # an agent's token
        await _refuse(websocket, CLOSE_FORBIDDEN, str(exc))
        return

    bus: EventBus = state.services["events"]
    await websocket.accept()
    await bus.serve(websocket, viewer=viewer)
