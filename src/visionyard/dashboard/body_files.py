"""A request body received into a temporary file, never more than a limit: the declared
Content-Length is checked first, and the bytes are counted as they arrive (a client may send
none, or lie). Used by the routes that take an upload as raw bytes (a run folder's tar, a
labelled zip)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Request

from visionyard.errors import PayloadTooLargeError


@asynccontextmanager
async def received_body(
    request: Request,
    *,
    limit: int,
    folder: Path,
    suffix: str,
    too_large: Callable[[int], PayloadTooLargeError],
) -> AsyncIterator[Path]:
    """The body in a file under `folder`, deleted when the block ends; `too_large(limit)` is
    raised beyond `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    path = Path(name)
    try:
        received = 0
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise too_large(limit)
                out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)
