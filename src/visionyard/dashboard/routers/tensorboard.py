"""Embedded TensorBoard: `/tb/<view>/...` on the dashboard's own port, behind its log-in.

`<view>` is a run id, or several joined by '+' for one TensorBoard over them
(`visionyard.dashboard.tensorboard.views`). The first request starts the view's TensorBoard
(a few seconds); later ones are forwarded to it (`...tensorboard.proxy`). Outside the API
prefix and the OpenAPI document: these are TensorBoard's pages, not the dashboard's API.
"""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from visionyard.dashboard.access import TensorBoardViewer
from visionyard.dashboard.csp import TENSORBOARD_POLICY
from visionyard.dashboard.deps import StateDep
from visionyard.dashboard.state import AppState
from visionyard.dashboard.tensorboard import proxy, views
from visionyard.dashboard.tensorboard.instances import TensorBoardError, TensorBoards
from visionyard.errors import ServiceUnavailableError

router = APIRouter(tags=["tensorboard"], include_in_schema=False)

METHODS = ["GET", "HEAD", "POST"]


def _boards(state: AppState) -> TensorBoards:
    boards: TensorBoards = state.services["tensorboard"]
    return boards


@router.api_route("/tb/{key}", methods=["GET", "HEAD"])
async def tensorboard_view_root(key: str, _user: TensorBoardViewer) -> RedirectResponse:
    views.parse_key(key)
    return RedirectResponse(f"/tb/{key}/", status_code=308)


@router.api_route("/tb/{key}/{path:path}", methods=METHODS)
async def tensorboard_view(
    request: Request, key: str, path: str, _user: TensorBoardViewer, state: StateDep
) -> Response:
    boards = _boards(state)
    instance = boards.get(key)
    if instance is None:
        folders = await run_in_threadpool(views.logdirs_for, state, key)
        try:
            instance = await run_in_threadpool(boards.open, key, folders)
        except TensorBoardError as exc:
            raise ServiceUnavailableError(str(exc)) from None
    try:
        response = await proxy.forward(boards.http, request, instance, path)
    except httpx.TransportError:
        await run_in_threadpool(boards.close, key)
        raise ServiceUnavailableError(
            f"the TensorBoard of view {key} stopped answering; reload the page to start it again"
        ) from None
    # TensorBoard's pages run inline scripts and styles: the dashboard's own policy would
    # block them (visionyard.dashboard.csp).
    response.headers["Content-Security-Policy"] = TENSORBOARD_POLICY
    return response
