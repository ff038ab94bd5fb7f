"""Labelled zips unpacked for evaluation: the layouts people zip, and every way an archive
could lead out of its folder, lie about its size or hold what is not an image, refused by name."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from visionyard.analysis.labelled_upload import UploadLimits, extract_labelled_zip
from visionyard.errors import InvalidRequestError, PayloadTooLargeError

CLASSES = ["cat", "dog"]
LIMITS = UploadLimits(max_files=100, max_bytes=1024**2, max_pixels=10_000)


def _png(size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "gray").save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(path: Path, members: dict[str, bytes], *, links: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    "prefix", ["", "my-folder/", "val/", "my-folder/val/"], ids=["flat", "top", "split", "both"]
)
def test_the_layouts_people_zip_are_read_as_class_folders(prefix: str, tmp_path: Path) -> None:
    members = {
        f"{prefix}cat/a.png": _png(),
        f"{prefix}dog/b.PNG": _png(),
        f"{prefix}dog/notes.txt": b"left out",
        "__MACOSX/._cat": b"metadata",
        f"{prefix}.DS_Store": b"x",
    }
    samples = extract_labelled_zip(
        _zip(tmp_path / "a.zip", members), tmp_path / "out", CLASSES, LIMITS
    )
    assert [(s.path, s.label) for s in samples] == [
        ("upload/cat/a.png", 0),
        ("upload/dog/b.PNG", 1),
    ]
    assert (tmp_path / "out" / "upload" / "dog" / "b.PNG").read_bytes() == _png()


@pytest.mark.parametrize(
    ("members", "links", "named"),
    [
        ({"../evil.png": b"x"}, (), "leads out"),
        ({"cat/../../evil.png": b"x"}, (), "leads out"),
        ({"/etc/cat/evil.png": b"x"}, (), "absolute"),
        ({"cat\\evil.png": b"x"}, (), "Windows-style"),
        ({"C:/cat/evil.png": b"x"}, (), "Windows-style"),
        ({}, ("cat/link.png",), "link or special file"),
        ({"bird/a.png": _png()}, (), "class folders the model does not know: bird"),
        ({"a.png": _png()}, (), "is not <class>/<image>"),
        ({"cat/deeper/a.png": _png(), "dog/b.png": _png()}, (), "is not <class>/<image>"),
        ({"cat/a.txt": b"no images"}, (), "holds no images"),
        ({"cat/fake.png": b"not really a png"}, (), "upload/cat/fake.png is not a readable image"),
        ({"cat/huge.png": _png((200, 200))}, (), "more than the 10000 pixels"),
    ],
)
def test_hostile_archives_are_refused_by_name(
    members: dict[str, bytes], links: tuple[str, ...], named: str, tmp_path: Path
) -> None:
    archive = _zip(tmp_path / "a.zip", members, links=links)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InvalidRequestError, match=named.replace("(", r"\(")):
        extract_labelled_zip(archive, out, CLASSES, LIMITS)
    assert not (tmp_path / "evil.png").exists()
    assert not any(p.is_symlink() for p in out.rglob("*"))


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(b"PK\x03\x04 but not really")
    with pytest.raises(InvalidRequestError, match="not a readable zip"):
        extract_labelled_zip(path, tmp_path / "out", CLASSES, LIMITS)


def test_a_zip_bomb_stops_at_the_byte_budget_whatever_its_headers_say(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bomb.zip", {"cat/bomb.png": b"\x00" * (8 * 1024**2)})
    assert archive.stat().st_size < 64 * 1024  # 8 MiB of zeros packs to a few KB
    with pytest.raises(PayloadTooLargeError, match="unpacks to more than"):
        extract_labelled_zip(archive, tmp_path / "out", CLASSES, LIMITS)
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written <= LIMITS.max_bytes


def test_too_many_entries_are_refused_before_any_is_read(tmp_path: Path) -> None:
    members = {f"cat/{i}.png": b"" for i in range(LIMITS.max_files + 1)}
    with pytest.raises(PayloadTooLargeError, match="101 entries"):
        extract_labelled_zip(_zip(tmp_path / "a.zip", members), tmp_path / "out", CLASSES, LIMITS)
    assert not (tmp_path / "out").exists()
