"""Unpacking an uploaded run folder (a tar stream) into a fresh folder, refusing anything that
could write outside it or smuggle something other than plain files in.

Decisions:

- Only folders and regular files are accepted. Symbolic links, hard links, devices and FIFOs
  are refused by name (400): a run folder is plain files, and a link could point anywhere.
- Member names must be plain relative paths (`visionyard.paths.check_relative`: no `..`, no
  absolute paths, no backslashes or control characters), each at most once.
- The target folder is created here and must not exist; every file is created with O_EXCL in a
  folder this function created, so nothing already on disk is followed or overwritten.
- The size of the whole upload is bounded before this runs (`VISIONYARD_MAX_IMPORT_BYTES`, 413),
  and so is the number of members here.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from visionyard.errors import PayloadTooLargeError, RunFolderError, VisionyardError
from visionyard.paths import check_relative
from visionyard.text import printable

#: members one upload may hold (a run folder has tens to a few thousand files)
MAX_MEMBERS = 100_000
_HOW_TO_SEND = "send the folder with `visionyard runs import RUN_DIR`"


class BadArchiveError(VisionyardError):
    """The upload is not a tar archive of plain files (400)."""


def _shown(name: str) -> str:
    return repr(printable(name)[:200])


def _place(target: Path, parts: list[str], name: str, *, folder: bool) -> Path:
    """The path for a member, creating its parent folders; refuses a name that puts a file
    where a folder is (or the other way round)."""
    current = target
    for index, part in enumerate(parts):
        current = current / part
        last = index == len(parts) - 1
        if last and not folder:
            if current.exists():
                raise BadArchiveError(f"the archive holds {_shown(name)} twice; {_HOW_TO_SEND}")
            return current
        if current.is_dir():
            continue
        if current.exists():
            raise BadArchiveError(
                f"the archive holds {_shown(name)} below a file of the same name; {_HOW_TO_SEND}"
            )
        current.mkdir()
    return current


def unpack(archive: Path, target: Path) -> int:
    """Unpack the tar file `archive` into the new folder `target`; returns the number of files.

    Raises BadArchiveError (400) for anything but a tar of plain files and folders,
    PathOutsideRootError (400) for a member name that is not a plain relative path, and
    PayloadTooLargeError (413) for too many members. `target` is left for the caller to remove.
    """
    target.mkdir()
    files = 0
    members = 0
    try:
        with tarfile.open(archive, mode="r:") as tar:
            while (member := tar.next()) is not None:
                members += 1
                if members > MAX_MEMBERS:
                    raise PayloadTooLargeError(
                        f"the archive holds more than {MAX_MEMBERS} files and folders; a run "
                        "folder has far fewer: check that RUN_DIR is one run's folder"
                    )
                parts = check_relative(member.name, what="archive member")
                if member.issym() or member.islnk():
                    raise BadArchiveError(
                        f"archive member {_shown(member.name)} is a link; links are refused "
                        "(they could point anywhere): replace it with the file it points to"
                    )
                if member.isdir():
                    if parts:
                        _place(target, parts, member.name, folder=True)
                    continue
                if not member.isreg():
                    raise BadArchiveError(
                        f"archive member {_shown(member.name)} is not a regular file or folder; "
                        "a run folder holds only files and folders"
                    )
                if not parts:
                    raise BadArchiveError(f"an archive member has no name; {_HOW_TO_SEND}")
                destination = _place(target, parts, member.name, folder=False)
                source = tar.extractfile(member)
                if source is None:  # isreg() members always have one; kept for the type checker
                    raise BadArchiveError(f"archive member {_shown(member.name)} has no data")
                with source, open(destination, "xb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
                files += 1
    except (tarfile.TarError, EOFError) as exc:
        raise BadArchiveError(
            f"the upload is not a readable tar archive ({exc}); {_HOW_TO_SEND}"
        ) from None
    if files == 0:
        raise RunFolderError(f"the upload holds no files; {_HOW_TO_SEND}")
    return files
