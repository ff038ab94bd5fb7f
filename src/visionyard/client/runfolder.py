"""What `visionyard runs import` sends: a local run folder, checked, as a tar stream.

The folder is checked on this machine first (`visionyard.training.runreader`, which reads JSON
only: no torch), so a folder that is not a run is refused here, naming what is missing, before
anything is uploaded; the dashboard checks the upload again.

The tar stream is built on the fly, file by file, with its exact length known in advance (the
server refuses an upload over its limit before reading it). Every file is sent as a plain file:
hard links (the trainer hard-links `checkpoints/best` to `last` where it can) become copies,
and symbolic links are refused, naming them, since the dashboard accepts no links.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from visionyard.client.errors import ClientError
from visionyard.errors import VisionyardError
from visionyard.training.runreader import RunRecord, read_run

BLOCK = tarfile.BLOCKSIZE
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Member:
    name: str  # relative, '/' separators
    path: Path
    size: int
    mtime: float


@dataclass(frozen=True)
class RunUpload:
    folder: Path
    record: RunRecord
    members: list[Member]

    @property
    def headers(self) -> list[bytes]:
        return [_header(m) for m in self.members]

    @property
    def size(self) -> int:
        """The exact length of `chunks()`."""
        body = sum(
            len(h) + _padded(m.size) for h, m in zip(self.headers, self.members, strict=True)
        )
        return body + 2 * BLOCK

    def chunks(self) -> Iterator[bytes]:
        for header, member in zip(self.headers, self.members, strict=True):
            yield header
            sent = 0
            with open(member.path, "rb") as fh:
                while sent < member.size and (data := fh.read(min(_CHUNK, member.size - sent))):
                    sent += len(data)
                    yield data
            if sent != member.size:
                raise ClientError(f"{member.path} changed while it was being sent; try again")
            yield b"\0" * (_padded(member.size) - member.size)
        yield b"\0" * (2 * BLOCK)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _header(member: Member) -> bytes:
    info = tarfile.TarInfo(member.name)
    info.size = member.size
    info.mtime = int(member.mtime)
    info.mode = 0o644
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def collect(folder: Path) -> list[Member]:
    """Every file below `folder`, in a stable order; ClientError naming any symbolic link."""
    members: list[Member] = []
    links: list[str] = []
    for current, dirs, files in os.walk(folder, followlinks=False):
        base = Path(current)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                links.append((base / name).relative_to(folder).as_posix())
        dirs[:] = sorted(d for d in dirs if not (base / d).is_symlink())
        for name in sorted(files):
            path = base / name
            relative = path.relative_to(folder).as_posix()
            if path.is_symlink():
                links.append(relative)
                continue
            if not path.is_file():
                continue  # sockets, FIFOs: nothing a trainer writes
            stat = path.stat()
            members.append(Member(relative, path, stat.st_size, stat.st_mtime))
    if links:
        shown = ", ".join(links[:5]) + (f" and {len(links) - 5} more" if len(links) > 5 else "")
        raise ClientError(
            f"{folder} holds symbolic links ({shown}); the dashboard accepts only plain files: "
            "replace each link with the file it points to (or remove it), then import again"
        )
    return members


def prepare(folder: Path) -> RunUpload:
    """Check `folder` is a run folder and list what to send."""
    folder = folder.expanduser()
    try:
        record = read_run(folder)
    except VisionyardError as exc:
        raise ClientError(str(exc), exc.exit_code) from None
    return RunUpload(folder=folder, record=record, members=collect(folder))
