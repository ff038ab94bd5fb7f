"""Datasets API: registration through the real scanner, analysis, browsing, samples and
thumbnails, and a traversal corpus thrown at every route that takes a path."""

from __future__ import annotations

import io
import os
import struct
import zlib
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from tests.dashboard.test_projects import error_fields
from visionyard.dashboard.services import datasets as datasets_service
from visionyard.training.imagefolder import scan_dataset

API = "/api/v1"
SECRET = b"TOP-SECRET-OUTSIDE-THE-ROOT"


def write_image(path: Path, *, size: tuple[int, int] = (24, 16), mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    color = {"RGB": (200, 30, 30), "RGBA": (0, 0, 255, 100), "L": 128}[mode]
    Image.new(mode, size, color).save(path)
    return path


def write_dataset(root: Path, classes=("cat", "dog"), per_split=(("train", 3), ("val", 2))) -> Path:
    """A real ImageFolder tree of small PNGs (and one JPEG per class)."""
    for split, n in per_split:
        for cls in classes:
            for i in range(n):
                suffix = "jpg" if i == 0 else "png"
                write_image(root / split / cls / f"{cls}_{i}.{suffix}")
    return root


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries almost no data (a pixel bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def datasets_root(app: FastAPI) -> Path:
    return app.state.vy.settings.datasets_root


def register(client: TestClient, name: str, path: str):
    return client.post(f"{API}/datasets", json={"name": name, "path": path})


def test_register_analyse_list_get_delete(client: TestClient, datasets_root: Path) -> None:
    root = write_dataset(
        datasets_root / "pets" / "v1", per_split=(("train", 3), ("val", 2), ("test", 1))
    )
    created = register(client, "pets", "pets/v1/")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["path"] == "pets/v1"
    analysis = body["analysis"]
    assert analysis["classes"] == ["cat", "dog"]
    assert analysis["counts"] == {
        "train": {"cat": 3, "dog": 3},
        "val": {"cat": 2, "dog": 2},
        "test": {"cat": 1, "dog": 1},
    }
    assert analysis["num_images"] == {"train": 6, "val": 4, "test": 2}
    assert analysis["skipped"] == []
    expected = scan_dataset(root, image_check="header").fingerprint()
    assert body["fingerprint"] == expected["file_list_sha256"]
    assert analysis["fingerprint"] == expected
    assert datetime.fromisoformat(body["analysed_at"]).utcoffset() is not None

    assert register(client, "pets", "pets/v1").status_code == 409
    again = register(client, "pets-again", "./pets//v1")  # same folder, spelled differently
    assert again.status_code == 409 and "'pets'" in again.json()["error"]["message"]

    write_dataset(datasets_root / "birds", classes=("owl",))
    assert register(client, "birds", "birds").status_code == 201
    write_dataset(datasets_root / "fish", classes=("cod",))
    assert register(client, "fish_1", "fish").status_code == 201

    listed = client.get(f"{API}/datasets").json()
    assert [d["name"] for d in listed["items"]] == ["fish_1", "birds", "pets"]
    page = client.get(f"{API}/datasets", params={"sort": "name", "order": "asc", "limit": 2})
    assert [d["name"] for d in page.json()["items"]] == ["birds", "fish_1"]
    assert page.json()["total"] == 3
    assert [d["name"] for d in client.get(f"{API}/datasets?q=_").json()["items"]] == ["fish_1"]
    assert client.get(f"{API}/datasets", params={"sort": "path"}).status_code == 422

    did = body["id"]
    assert client.get(f"{API}/datasets/{did}").json() == body
    assert client.get(f"{API}/datasets/999999").status_code == 404
    assert client.delete(f"{API}/datasets/999999").status_code == 404
    assert client.post(f"{API}/datasets/999999/analyze").status_code == 404
    assert client.delete(f"{API}/datasets/{did}").status_code == 204
    assert client.get(f"{API}/datasets/{did}").status_code == 404
    assert (root / "train" / "cat" / "cat_1.png").is_file()  # files are never deleted


def test_an_absolute_path_inside_datasets_dir_registers_as_a_config_root_does(
    client: TestClient, datasets_root: Path
) -> None:
    write_dataset(datasets_root / "pets" / "v2")
    created = register(client, "pets", str(datasets_root / "pets" / "v2"))
    assert created.status_code == 201, created.text
    assert created.json()["path"] == "pets/v2"  # stored relative, like a relative registration
    again = register(client, "pets-again", "pets/v2")
    assert again.status_code == 409 and "already registered" in again.text


def test_registration_refuses_bad_layouts_and_paths(
    client: TestClient, datasets_root: Path, tmp_path: Path
) -> None:
    write_dataset(datasets_root / "noval", per_split=(("train", 2),))
    no_val = register(client, "noval", "noval")
    assert no_val.status_code == 422
    assert "no val/ folder" in no_val.json()["error"]["message"]
    assert no_val.json()["error"]["code"] == "invalid_dataset"

    write_dataset(datasets_root / "mismatch", classes=("a", "b"))
    write_image(datasets_root / "mismatch" / "val" / "c" / "x.png")
    mismatch = register(client, "mismatch", "mismatch")
    assert mismatch.status_code == 422 and "extra ['c']" in mismatch.json()["error"]["message"]

    looped = write_dataset(datasets_root / "looped")
    os.symlink("self", looped / "train" / "cat" / "self")
    loop = register(client, "looped", "looped")
    assert loop.status_code == 422, loop.text
    assert "loop" in loop.json()["error"]["message"]

    missing = register(client, "missing", "does/not/exist")
    message = missing.json()["error"]["message"]
    assert missing.status_code == 422 and "is not a folder under DATASETS_DIR" in message
    # It names this request's field and what to do, not a config's `root` setting.
    assert "'does/not/exist'" in message and "/api/v1/datasets/browse" in message
    assert "root" not in message.replace(str(datasets_root.resolve()), "")
    not_a_folder = datasets_root / "a-file"
    not_a_folder.write_text("x")
    assert register(client, "file", "a-file").status_code == 422

    outside = write_dataset(tmp_path / "outside-ds")
    os.symlink(outside, datasets_root / "linked")
    for path in ("/etc", str(outside), "../outside-ds", "linked", "a\x00b", "a\\..\\b", "x/../.."):
        response = register(client, "bad", path)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "path_outside_root"

    for bad, field in (
        ({"path": "noval"}, "name"),
        ({"name": "x"}, "path"),
        ({"name": "", "path": "x"}, "name"),
        ({"name": "x", "path": "y" * 1025}, "path"),
        ({"name": "x", "path": "y", "root": "/"}, "root"),
    ):
        response = client.post(f"{API}/datasets", json=bad)
        assert response.status_code == 422 and field in error_fields(response), bad
    assert client.get(f"{API}/datasets").json()["total"] == 0


def test_corrupt_files_are_listed_and_reanalysis(client: TestClient, datasets_root: Path) -> None:
    root = write_dataset(datasets_root / "dirty")
    (root / "train" / "cat" / "broken.png").write_bytes(b"not a png at all")
    (root / "val" / "dog" / "empty.jpg").write_bytes(b"")
    created = register(client, "dirty", "dirty")
    assert created.status_code == 201, created.text
    body = created.json()
    skipped = {s["path"]: s["reason"] for s in body["analysis"]["skipped"]}
    assert set(skipped) == {"train/cat/broken.png", "val/dog/empty.jpg"}
    assert skipped["val/dog/empty.jpg"] == "empty file (0 bytes)"
    assert body["analysis"]["counts"]["train"] == {"cat": 3, "dog": 3}

    # The folder changes: analyze picks it up and the fingerprint moves.
    (root / "train" / "cat" / "broken.png").unlink()
    write_image(root / "train" / "dog" / "new.png")
    analysed = client.post(f"{API}/datasets/{body['id']}/analyze")
    assert analysed.status_code == 200
    after = analysed.json()
    assert after["analysis"]["counts"]["train"] == {"cat": 3, "dog": 4}
    assert [s["path"] for s in after["analysis"]["skipped"]] == ["val/dog/empty.jpg"]
    assert after["fingerprint"] != body["fingerprint"]
    assert after["analysed_at"] >= body["analysed_at"]

    # A broken layout answers 422 and leaves the stored analysis as it was.
    for f in (root / "val" / "cat").iterdir():
        f.unlink()
    failed = client.post(f"{API}/datasets/{body['id']}/analyze")
    assert failed.status_code == 422 and "empty class folder" in failed.json()["error"]["message"]
    assert client.get(f"{API}/datasets/{body['id']}").json() == after


def test_browse_lists_folders_with_image_counts(
    client: TestClient, datasets_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dataset(datasets_root / "pets")
    write_image(datasets_root / "loose" / "a.png")
    write_image(datasets_root / "loose" / "b.jpg")
    (datasets_root / "loose" / "notes.txt").write_text("hi")
    (datasets_root / ".hidden").mkdir()
    (datasets_root / "top.png").write_bytes(b"x")
    write_dataset(tmp_path / "outside")
    os.symlink(tmp_path / "outside", datasets_root / "link-out")
    os.symlink(datasets_root / "pets", datasets_root / "link-in")

    top = client.get(f"{API}/datasets/browse")
    assert top.status_code == 200, top.text
    listing = top.json()
    assert listing["path"] == "" and listing["parent"] is None and listing["truncated"] is False
    assert listing["image_count"] == 1
    entries = {e["name"]: e for e in listing["entries"]}
    assert list(entries) == ["link-in", "loose", "pets"]  # hidden and link-out left out
    assert entries["loose"] == {
        "name": "loose",
        "path": "loose",
        "image_count": 2,
        "image_count_capped": False,
        "is_dataset": False,
    }
    assert entries["pets"]["is_dataset"] is True and entries["pets"]["image_count"] == 0

    nested = client.get(f"{API}/datasets/browse", params={"path": "pets/train"}).json()
    assert nested["path"] == "pets/train" and nested["parent"] == "pets"
    assert [(e["name"], e["path"], e["image_count"]) for e in nested["entries"]] == [
        ("cat", "pets/train/cat", 3),
        ("dog", "pets/train/dog", 3),
    ]
    assert client.get(f"{API}/datasets/browse", params={"path": "pets"}).json()["parent"] == ""
    assert client.get(f"{API}/datasets/browse", params={"path": "nope"}).status_code == 404
    assert client.get(f"{API}/datasets/browse", params={"path": "top.png"}).status_code == 404

    # Counting is bounded per folder and per request: huge folders report a capped count.
    monkeypatch.setattr(datasets_service, "MAX_COUNTED_ENTRIES", 2)
    capped = {e["name"]: e for e in client.get(f"{API}/datasets/browse").json()["entries"]}
    assert capped["loose"]["image_count_capped"] is True
    assert capped["loose"]["image_count"] <= 2
    assert capped["pets"]["image_count_capped"] is False  # two entries: train, val


def test_samples_and_thumbnails(
    client: TestClient, datasets_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_dataset(datasets_root / "pets", per_split=(("train", 5), ("val", 2)))
    write_image(root / "train" / "cat" / "alpha.png", size=(300, 150), mode="RGBA")
    write_image(root / "train" / "cat" / "big.png", size=(1000, 500))
    did = register(client, "pets", "pets").json()["id"]
    (root / "train" / "cat" / "fake.png").write_bytes(b"GIF89a but not really")
    (root / "train" / "cat" / "readme.txt").write_text("not an image")
    full = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(full, format="JPEG")
    (root / "train" / "dog" / "truncated.jpg").write_bytes(full.getvalue()[:200])
    (root / "train" / "dog" / "bomb.png").write_bytes(png_header_only(60_000, 60_000))

    samples = client.get(
        f"{API}/datasets/{did}/samples",
        params={"split": "train", "class_name": "cat", "limit": 3, "order": "asc"},
    ).json()
    assert samples["total"] == 8  # 5 + alpha + big + fake (listing does not decode)
    assert [s["path"] for s in samples["items"]] == [
        "train/cat/alpha.png",
        "train/cat/big.png",
        "train/cat/cat_0.jpg",
    ]
    assert samples["items"][0] == {
        "path": "train/cat/alpha.png",
        "split": "train",
        "class_name": "cat",
    }
    every = client.get(f"{API}/datasets/{did}/samples", params={"split": "val"}).json()
    assert every["total"] == 4 and {s["class_name"] for s in every["items"]} == {"cat", "dog"}
    assert (
        client.get(f"{API}/datasets/{did}/samples", params={"split": "test"}).json()["total"] == 0
    )
    unknown = client.get(f"{API}/datasets/{did}/samples", params={"class_name": "../dog"})
    assert unknown.status_code == 404 and "no class" in unknown.json()["error"]["message"]
    bad_split = client.get(f"{API}/datasets/{did}/samples", params={"split": "../.."})
    assert bad_split.status_code == 422 and "query.split" in error_fields(bad_split)
    assert client.get(f"{API}/datasets/999999/samples").status_code == 404

    def thumb(path: str, **params):
        return client.get(f"{API}/datasets/{did}/thumbnail", params={"path": path, **params})

    jpeg = thumb("train/cat/big.png", size=64)
    assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
    assert jpeg.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(jpeg.content)) as image:
        assert image.format == "JPEG" and image.size == (64, 32)
    png = thumb("train/cat/alpha.png")
    assert png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.mode == "RGBA" and max(image.size) == 128
    small = thumb("train/cat/cat_0.jpg", size=512)
    with Image.open(io.BytesIO(small.content)) as image:
        assert image.size == (24, 16)  # never upscaled

    for path, status, words in (
        ("train/cat/fake.png", 422, "not a readable image"),
        ("train/cat/readme.txt", 422, "not an image file"),
        ("train/dog/truncated.jpg", 422, "not a readable image"),
        ("train/dog/bomb.png", 422, "MAX_IMAGE_PIXELS"),
        ("train/cat/missing.png", 404, "no file"),
        ("train/cat", 404, "no file"),
    ):
        response = thumb(path)
        assert response.status_code == status, (path, response.text)
        assert words in response.json()["error"]["message"], (path, response.json())
    for size in (0, 15, 513, 10**12):
        response = thumb("train/cat/big.png", size=size)
        assert response.status_code == 422 and "query.size" in error_fields(response)
    assert client.get(f"{API}/datasets/{did}/thumbnail").status_code == 422  # path required

    # MAX_IMAGE_PIXELS is read at request time; above it, and above twice it (PIL's own error).
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300_000)
    over = thumb("train/cat/big.png")  # 500,000 pixels: between the limit and twice it
    assert over.status_code == 422 and "500000 pixels" in over.json()["error"]["message"]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    assert thumb("train/cat/big.png").status_code == 422
    assert thumb("train/cat/cat_1.png").status_code == 200


# ---- traversal corpus ------------------------------------------------------------------------

# Sent as raw (already encoded) query strings, so the encoded forms reach the server unchanged.
RAW_TRAVERSALS = [
    "..%2f..%2fsecret.png",
    "%2e%2e/%2e%2e/secret.png",
    "%2e%2e%2f%2e%2e%2fsecret.png",
    "%252e%252e%252f%252e%252e%252fsecret.png",
    "..%252f..%252fsecret.png",
    "%2e%2e%5c%2e%2e%5csecret.png",
    "..%5c..%5csecret.png",
    "..%c0%af..%c0%afsecret.png",
    "..%ef%bc%8f..%ef%bc%8fsecret.png",
    "%c0%ae%c0%ae/%c0%ae%c0%ae/secret.png",
    "%2fetc%2fpasswd",
    "%00",
    "train%00/../../secret.png",
    "..%00/..%00/secret.png",
    "%2E%2E/%2E%2E/secret.png",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%uff0e%uff0e/%uff0e%uff0e/secret.png",
    "..;/..;/secret.png",
]

# Sent as decoded values (the client encodes them).
TRAVERSALS = [
    "../../secret.png",
    "../secret.png",
    "../../../../../../etc/passwd",
    "..",
    "../",
    "./../",
    "train/../../../secret.png",
    "train/cat/../../../../secret.png",
    "train/../../",
    "/etc/passwd",
    "/etc/shadow",
    "//etc/passwd",
    "///etc/passwd",
    "/",
    "{secret}",
    "{datasets}/pets/train/cat/cat_1.png",
    "file:///etc/passwd",
    "....//....//secret.png",
    "....//....//....//etc/passwd",
    "..../secret.png",
    ".../.../secret.png",
    "..\\..\\secret.png",
    "..\\/..\\/secret.png",
    "\\etc\\passwd",
    "C:\\Windows\\win.ini",
    "\\\\server\\share\\x.png",
    "..\x00/secret.png",
    "train\x00.png",
    "\x00",
    "\u2025/secret.png",
    "\uff0e\uff0e/\uff0e\uff0e/secret.png",
    "\u2024\u2024/\u2024\u2024/secret.png",
    "\ufe52\ufe52/secret.png",
    "%2e%2e/%2e%2e/secret.png",
    "%252e%252e/secret.png",
    "../pets-evil/evil.png",
    "../../datasets-evil/evil.png",
    "../other/train/cat/cat_1.png",
    "train/cat/link-out.png",
    "train/link-dir/secret.png",
    "train/cat/link-up/secret.png",
    "train/loop/secret.png",
    "train/loop",
    "~/secret.png",
    "~root/.ssh/id_rsa",
    "$HOME/secret.png",
    "train/cat/\n../../secret.png",
    "train/cat/\r\n",
    "a/" * 600,
    "x" * 300,
    "../" * 40 + "etc/passwd",
]


@pytest.fixture
def traversal_setup(client: TestClient, datasets_root: Path, tmp_path: Path) -> dict:
    """A dataset `pets` with escape hatches planted around and inside it."""
    root = write_dataset(datasets_root / "pets")
    write_dataset(datasets_root / "other")
    secret = tmp_path / "secret.png"
    write_image(secret)
    secret.write_bytes(secret.read_bytes() + SECRET)  # still a valid PNG, with a marker
    (tmp_path / "secret.txt").write_bytes(SECRET)
    # sibling-prefix folders: `pets-evil` next to the dataset, `datasets-evil` next to the root
    for evil in (datasets_root / "pets-evil", tmp_path / "datasets-evil"):
        write_image(evil / "evil.png")
    did = register(client, "pets", "pets").json()["id"]
    # Planted after registration (the scanner itself refuses links out of a dataset).
    os.symlink(secret, root / "train" / "cat" / "link-out.png")
    os.symlink(tmp_path, root / "train" / "link-dir")
    os.symlink(tmp_path, root / "train" / "cat" / "link-up")
    os.symlink(tmp_path, datasets_root / "escape")
    os.symlink("loop", root / "train" / "loop")  # a link to itself (ELOOP)
    return {"id": did, "secret": str(secret), "datasets": str(datasets_root)}


def _assert_refused(response, payload: str) -> None:
    assert 400 <= response.status_code < 500, (payload, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), payload
    assert SECRET not in response.content and b"root:" not in response.content, payload


def test_traversal_corpus_is_refused(client: TestClient, traversal_setup: dict) -> None:
    did = traversal_setup["id"]
    thumb_url = f"{API}/datasets/{did}/thumbnail"
    browse_url = f"{API}/datasets/browse"
    assert len(RAW_TRAVERSALS) + len(TRAVERSALS) >= 60

    # The baseline works, so the refusals below are not an artefact of a broken route.
    assert client.get(thumb_url, params={"path": "train/cat/cat_1.png"}).status_code == 200
    assert client.get(browse_url, params={"path": "pets/train"}).status_code == 200

    tried = 0
    for raw in RAW_TRAVERSALS:
        _assert_refused(client.get(f"{thumb_url}?path={raw}"), raw)
        _assert_refused(client.get(f"{browse_url}?path={raw}"), raw)
        tried += 2
    for template in TRAVERSALS:
        payload = template.format(**traversal_setup)
        _assert_refused(client.get(thumb_url, params={"path": payload}), payload)
        tried += 1
        _assert_refused(client.get(browse_url, params={"path": payload}), payload)
        tried += 1
    for link in ("escape", "pets/train/link-dir", "pets/train/cat/link-up", "../pets-evil"):
        response = client.get(browse_url, params={"path": link})
        _assert_refused(response, link)
        assert response.status_code == 400, link
    assert tried >= 120


def test_symlinked_dataset_root_out_of_datasets_dir(
    client: TestClient, app: FastAPI, datasets_root: Path, tmp_path: Path
) -> None:
    """A registered folder later swapped for a link out is refused on every path route."""
    root = write_dataset(datasets_root / "swap")
    did = register(client, "swap", "swap").json()["id"]
    outside = write_dataset(tmp_path / "swapped-in")
    (outside / "train" / "cat" / "cat_1.png").write_bytes(
        (outside / "train" / "cat" / "cat_1.png").read_bytes() + SECRET
    )
    root.rename(tmp_path / "old-swap")
    os.symlink(outside, root)
    for response in (
        client.get(f"{API}/datasets/{did}/thumbnail", params={"path": "train/cat/cat_1.png"}),
        client.get(f"{API}/datasets/{did}/samples"),
        client.post(f"{API}/datasets/{did}/analyze"),
    ):
        _assert_refused(response, "swap")
        assert response.status_code == 400


def test_dataset_routes_need_authentication(anon: TestClient) -> None:
    for method, path in (
        ("GET", "/datasets"),
        ("POST", "/datasets"),
        ("GET", "/datasets/browse"),
        ("GET", "/datasets/1"),
        ("DELETE", "/datasets/1"),
        ("POST", "/datasets/1/analyze"),
        ("GET", "/datasets/1/samples"),
        ("GET", "/datasets/1/thumbnail?path=train/cat/x.png"),
    ):
        kwargs = {"json": {"name": "x", "path": "x"}} if method == "POST" else {}
        assert anon.request(method, f"{API}{path}", **kwargs).status_code == 401, (method, path)
