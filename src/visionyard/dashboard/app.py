"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from visionyard import __version__
from visionyard.dashboard.access import check_every_route_decides
from visionyard.dashboard.apidocs import install_api_docs
from visionyard.dashboard.audit import audit_trail
from visionyard.dashboard.csrf import CSRF_HEADER
from visionyard.dashboard.errors import install_error_handlers
from visionyard.dashboard.events import EventBus
from visionyard.dashboard.hosts import HostAllowlistMiddleware
from visionyard.dashboard.methods import MethodNotAllowedMiddleware
from visionyard.dashboard.model_testing.cache import ModelCache
from visionyard.dashboard.openapi import install_openapi
from visionyard.dashboard.reaper import LeaseReaper
from visionyard.dashboard.routers import (
    agents,
    audit,
    auth,
    configs,
    datasets,
    groups,
    members,
    model_testing,
    models,
    options,
    projects,
    run_compare,
    run_control,
    run_export,
    run_import,
    run_keys,
    run_outputs,
    run_reports,
    runs,
    sessions,
    system,
    tensorboard,
    ws,
)
from visionyard.dashboard.security_headers import SecurityHeadersMiddleware
from visionyard.dashboard.services.auth import announce_generated, bootstrap_admin
from visionyard.dashboard.state import AppState
from visionyard.dashboard.tensorboard.instances import TensorBoards
from visionyard.dashboard.webui import install_web_ui
from visionyard.db.engine import is_sqlite, make_engine, make_session_factory
from visionyard.db.migrate import ensure_schema
from visionyard.secretbox import SecretBox, load_or_create_key
from visionyard.settings import Settings, get_settings

log = logging.getLogger("visionyard.dashboard")
API_PREFIX = "/api/v1"


def operation_id(route: APIRoute) -> str:
    """A route without an explicit operation_id gets its function's name in camelCase
    (`list_runs` -> `listRuns`), the style of the explicit ones: the web UI's generated client
    names its methods after these, so they must not depend on path or method like FastAPI's."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def build_state(settings: Settings) -> AppState:
    engine = make_engine(settings.database_url)
    ensure_schema(engine, auto_upgrade=is_sqlite(settings.database_url))
    settings.runs_root.mkdir(parents=True, exist_ok=True)
    settings.datasets_root.mkdir(parents=True, exist_ok=True)
    settings.models_root.mkdir(parents=True, exist_ok=True)
    key = load_or_create_key(
        settings.data_dir,
        settings.secret_key.get_secret_value() if settings.secret_key else None,
    )
    state = AppState(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        read_sessions=make_session_factory(engine, read_only=True),
        secrets=SecretBox(key),
    )
    state.services["events"] = EventBus(
        engine=engine,
        read_sessions=state.read_sessions,
        poll_interval=settings.events_poll_interval,
    )
    state.services["reaper"] = LeaseReaper(state.sessions, interval=settings.reaper_interval)
    state.services["model_testing"] = ModelCache(settings.predict_cache_bytes)
    state.services["tensorboard"] = TensorBoards(
        settings.data_dir / "tensorboard",
        cap=settings.tb_max_instances,
        idle_timeout=settings.tb_idle_timeout,
    )
    with state.sessions() as session, session.begin():
        generated = bootstrap_admin(
            session,
            password=settings.admin_password.get_secret_value()
            if settings.admin_password
            else None,
            token=settings.admin_token.get_secret_value() if settings.admin_token else None,
        )
    announce_generated(generated)
    return state


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state: AppState = app.state.vy
        for service in state.services.values():
            await service.start()
        try:
            yield
        finally:
            for service in reversed(list(state.services.values())):
                await service.stop()
            state.engine.dispose()

    app = FastAPI(
        title="Visionyard",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        # The docs page FastAPI would add loads Swagger UI from a CDN (a blank page offline):
        # install_api_docs serves it from the dashboard's own files instead.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
    )
    app.state.vy = build_state(settings)
    install_error_handlers(app)
    install_openapi(app)
    install_api_docs(app, API_PREFIX)
    # Innermost: CORS answers its preflight OPTIONS requests before this sees them.
    app.add_middleware(MethodNotAllowedMiddleware, router=app.router)
    app.add_middleware(HostAllowlistMiddleware, allowed_hosts=settings.allowed_hosts)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
        )
    # Outermost: every answer gets them, the middlewares' own refusals included.
    app.add_middleware(SecurityHeadersMiddleware, api_prefix=API_PREFIX)
    for module in (
        system,
        auth,
        sessions,
        projects,
        members,
        groups,
        datasets,
        models,
        configs,
        options,
        run_compare,  # before runs: /runs/compare is not /runs/{run_id}
        runs,
        run_keys,
        run_control,
        run_outputs,
        run_reports,
        run_import,
        model_testing,
        run_export,
        agents,
        audit,
    ):
        # Every change through the API lands in the audit log, in the change's transaction.
        app.include_router(
            module.router,
            prefix=API_PREFIX,
            dependencies=[Depends(audit_trail, scope="function")],
        )
    app.include_router(ws.router, prefix=API_PREFIX)  # changes nothing; decides per topic

    # TensorBoard's pages, outside the API prefix, before the UI's catch-all mount.
    app.include_router(tensorboard.router)
    # Last: everything above wins over the UI's files.
    install_web_ui(app, API_PREFIX, settings.web_ui_dir)
    check_every_route_decides(app)
    return app
