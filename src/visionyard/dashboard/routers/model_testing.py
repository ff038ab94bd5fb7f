"""Model testing: `POST /runs/{run_id}/predict` classifies uploaded images with one of the
run's checkpoints and lays a Grad-CAM saliency map over each.

Semantics and decisions: `visionyard.dashboard.model_testing` (what an upload may be, the model
cache, one test at a time).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from visionyard.analysis.checkpoints import canonical_name
from visionyard.dashboard.access import RunReader
from visionyard.dashboard.deps import StateDep
from visionyard.dashboard.model_testing import service
from visionyard.dashboard.model_testing.cache import ModelCache
from visionyard.dashboard.model_testing.uploads import (
    ACCEPTED_TEXT,
    UploadedImage,
    check_size,
    decode_image,
)
from visionyard.dashboard.schemas.common import IdPath
from visionyard.dashboard.schemas.model_testing import ModelTestOut
from visionyard.dashboard.services.run_outputs import run_folder
from visionyard.dashboard.state import AppState
from visionyard.errors import InvalidRequestError, PayloadTooLargeError

router = APIRouter(tags=["runs"])

MAX_TOP_K = 20
_FIELDS = ("checkpoint", "top_k", "saliency", "target")

#: the request body as the OpenAPI document states it (read by hand: limits come first)
PREDICT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["files"],
                "properties": {
                    "files": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string", "format": "binary"},
                        "description": f"The images ({ACCEPTED_TEXT}); at most "
                        "VISIONYARD_PREDICT_MAX_FILES, each within "
                        "VISIONYARD_PREDICT_MAX_FILE_BYTES and VISIONYARD_PREDICT_MAX_PIXELS.",
                    },
                    "checkpoint": {
                        "type": "string",
                        "default": "best",
                        "description": "best, last or epoch_N",
                    },
                    "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": 5},
                    "saliency": {"type": "boolean", "default": True},
                    "target": {
                        "type": "string",
                        "description": "The class the saliency map explains (default: each "
                        "image's top prediction).",
                    },
                },
            }
        }
    },
}


def _cache(state: AppState) -> ModelCache:
    cache: ModelCache = state.services["model_testing"]
    return cache


def _field(form: FormData, name: str) -> str | None:
    values = form.getlist(name)
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):
        raise InvalidRequestError(
            f"give the form field {name!r} once, as text",
            fields=[{"field": name, "message": "expected one text value"}],
        )
    return values[0]


def _top_k(text: str | None) -> int:
    if text is None:
        return 5
    if not text.isdigit() or not 1 <= int(text) <= MAX_TOP_K:
        raise InvalidRequestError(
            f"top_k must be a whole number from 1 to {MAX_TOP_K}, not {text[:20]!r}",
            fields=[{"field": "top_k", "message": f"an integer from 1 to {MAX_TOP_K}"}],
        )
    return int(text)


def _flag(text: str | None) -> bool:
    if text is None:
        return True
    if text.lower() not in {"true", "false"}:
        raise InvalidRequestError(
            f"saliency must be true or false, not {text[:20]!r}",
            fields=[{"field": "saliency", "message": "true or false"}],
        )
    return text.lower() == "true"


@router.post(
    "/runs/{run_id}/predict",
    operation_id="testRunModel",
    response_model=ModelTestOut,
    openapi_extra={"requestBody": PREDICT_BODY},
)
async def test_run_model(
    run_id: IdPath,
    request: Request,
    _access: RunReader,  # before the upload: an unauthenticated caller is refused unread
    state: StateDep,
) -> ModelTestOut:
    """Classify the uploaded images with the run's checkpoint: the top classes of each and,
    unless `saliency` is false, a Grad-CAM overlay at the image's size. The first request for a
    checkpoint loads it (seconds); later ones reuse it. 422 names an upload that is not an
    accepted image, 413 one over the size limit."""
    settings = state.settings
    # The run first: nothing is received for a run that does not exist.
    folder = await run_in_threadpool(_run_folder_of, state, run_id)
    limit = settings.predict_max_files * (settings.predict_max_file_bytes + 64 * 1024)
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise InvalidRequestError("send the images as a multipart form with a Content-Length")
    if int(declared) > limit:
        raise PayloadTooLargeError(
            f"the upload is {declared} bytes, more than {limit} ({settings.predict_max_files} "
            "images of at most VISIONYARD_PREDICT_MAX_FILE_BYTES each); send fewer or smaller "
            "images"
        )
    async with request.form(
        max_files=settings.predict_max_files, max_fields=len(_FIELDS) + 1
    ) as form:
        unknown = sorted({key for key in form if key not in (*_FIELDS, "files")})
        if unknown:
            raise InvalidRequestError(
                f"unknown form field {unknown[0]!r}; the fields are files, " + ", ".join(_FIELDS),
                fields=[{"field": unknown[0], "message": "unknown field"}],
            )
        checkpoint = canonical_name(_field(form, "checkpoint") or "best")
        top_k = _top_k(_field(form, "top_k"))
        saliency = _flag(_field(form, "saliency"))
        target = _field(form, "target")
        uploads = form.getlist("files")
        if not uploads or not all(isinstance(u, UploadFile) for u in uploads):
            raise InvalidRequestError(
                f"attach one or more images as files ({ACCEPTED_TEXT})",
                fields=[{"field": "files", "message": "no image attached"}],
            )
        images = [await _decoded(u, state) for u in uploads if isinstance(u, UploadFile)]
    return await run_in_threadpool(
        service.test_images,
        _cache(state),
        run_id,
        folder,
        images,
        checkpoint=checkpoint,
        top_k=top_k,
        saliency=saliency,
        target=target,
    )


async def _decoded(upload: UploadFile, state: AppState) -> UploadedImage:
    settings = state.settings
    name = upload.filename or "upload"
    data = await upload.read(settings.predict_max_file_bytes + 1)
    check_size(name, len(data), settings.predict_max_file_bytes)
    return await run_in_threadpool(decode_image, name, data, max_pixels=settings.predict_max_pixels)


def _run_folder_of(state: AppState, run_id: int) -> Path:
    with state.read_sessions() as session:
        return run_folder(session, state.settings, run_id)
