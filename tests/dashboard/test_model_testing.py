"""Model testing through the API: a real trained run's checkpoints classify uploaded digits as
`transformers.pipeline` does with the exported model; a hostile upload corpus is refused with a
4xx that names the problem, never a 5xx, never an unpickling; models are cached within budget."""

from __future__ import annotations

import base64
import io
import os
import pickle
import shutil
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from transformers import pipeline

from tests.dashboard.conftest import AUTH
from visionyard.dashboard.model_testing.cache import ModelCache, model_bytes
from visionyard.db.models import Project, Run, RunState
from visionyard.settings import Settings

MAX_BYTES = 256 * 1024
MAX_PIXELS = 4_000_000


@pytest.fixture
def test_app(sqlite_url: str, settings_factory: Callable[..., Settings]) -> Iterator[FastAPI]:
    from visionyard.dashboard.app import create_app

    application = create_app(
        settings_factory(
            sqlite_url,
            predict_max_file_bytes=MAX_BYTES,
            predict_max_pixels=MAX_PIXELS,
            predict_max_files=4,
        )
    )
    yield application
    application.state.vy.engine.dispose()


@pytest.fixture
def run_id(test_app: FastAPI, analysis_run: Path) -> int:
    """The session's trained run, copied under this dashboard's runs root."""
    settings: Settings = test_app.state.vy.settings
    folder = settings.runs_root / "testing" / "analysis"
    shutil.copytree(analysis_run, folder)
    with test_app.state.vy.sessions() as session, session.begin():
        project = Project(name="testing")
        session.add(project)
        session.flush()
        run = Run(
            project_id=project.id,
            name="analysis",
            config_snapshot={},
            config_hash="0" * 64,
            state=RunState.succeeded,
            progress={},
            run_dir=str(folder),
        )
        session.add(run)
        session.flush()
        return run.id


@pytest.fixture
def client(test_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(test_app, headers=AUTH) as c:
        yield c


def _load(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _val_digits(digits_root: Path, per_class: int = 2) -> list[Path]:
    return [
        path
        for cls in sorted((digits_root / "val").iterdir())
        for path in sorted(cls.iterdir())[:per_class]
    ]


def _predict(client: TestClient, run_id: int, files: list[tuple[str, bytes]], **fields: str):
    return client.post(
        f"/api/v1/runs/{run_id}/predict",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        data=fields,
    )


def _data_url_image(url: str) -> Image.Image:
    header, encoded = url.split(",", 1)
    assert header in {"data:image/png;base64", "data:image/jpeg;base64"}
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


def test_the_checkpoint_predicts_what_the_pipeline_predicts_with_an_overlay_of_the_images_size(
    client: TestClient, run_id: int, analysis_run: Path, digits_root: Path
) -> None:
    paths = _val_digits(digits_root)
    reference = pipeline("image-classification", model=str(analysis_run / "model"), device="cpu")
    expected = [top[0]["label"] for top in reference([_load(p) for p in paths], top_k=1)]
    got = []
    for start in range(0, len(paths), 4):
        batch = paths[start : start + 4]
        response = _predict(client, run_id, [(p.name, p.read_bytes()) for p in batch], top_k="3")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["checkpoint"] == "best" and body["device"] == "cpu"
        for path, result in zip(batch, body["results"], strict=True):
            assert result["filename"] == path.name
            assert len(result["predictions"]) == 3
            probabilities = [p["probability"] for p in result["predictions"]]
            assert probabilities == sorted(probabilities, reverse=True)
            overlay = _data_url_image(result["saliency"]["overlay"])
            assert overlay.size == _load(path).size == (result["width"], result["height"])
            assert result["saliency"]["label"] == result["predictions"][0]["label"]
            got.append(result["predictions"][0]["label"])
    assert got == expected and len(got) == 20


def test_a_large_photo_gets_an_overlay_of_its_own_size_explaining_the_class_asked_for(
    client: TestClient, run_id: int, digits_root: Path
) -> None:
    digit = _load(_val_digits(digits_root)[0]).resize((640, 480))
    response = _predict(
        client, run_id, [("big.png", _png(digit))], checkpoint="epoch_1", target="7"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checkpoint"] == "epoch_001" and body["epoch"] == 1
    result = body["results"][0]
    assert result["saliency"]["label"] == "7"
    assert _data_url_image(result["saliency"]["overlay"]).size == (640, 480)
    without = _predict(client, run_id, [("big.png", _png(digit))], saliency="false")
    assert without.json()["results"][0]["saliency"] is None


def test_anonymous_callers_are_refused_before_the_upload_is_read(
    test_app: FastAPI, run_id: int
) -> None:
    with TestClient(test_app) as anon:
        response = _predict(anon, run_id, [("a.png", _png(Image.new("RGB", (8, 8))))])
    assert response.status_code == 401


# ---- the hostile corpus -------------------------------------------------------------------------


class Planted:
    """A pickle payload: unpickling it creates `marker`."""

    marker = ""

    def __reduce__(self):  # noqa: ANN204 - the pickle protocol
        return (os.system, (f"touch {self.marker}",))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def _png_bomb(width: int, height: int) -> bytes:
    """A PNG declaring width x height with (the start of) all-zero pixel data: a few KB that
    would decode to up to width * height * 3 bytes."""
    zeros = zlib.compress(b"\x00" * min((1 + 3 * width) * 64, 16 * 1024**2), 9)
    return _png_declaring(width, height, zeros)


def _gif_declaring(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b"\x3b"


def _hostile_corpus(digit_png: bytes, digit_jpeg: bytes, marker: Path) -> list[tuple[str, bytes]]:
    Planted.marker = str(marker)
    corpus: list[tuple[str, bytes]] = []
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        corpus.append((f"model-{protocol}.png", pickle.dumps(Planted(), protocol=protocol)))
        corpus.append((f"weights-{protocol}.jpg", pickle.dumps({"w": Planted()}, protocol)))
    for cut in (1, 4, 8, 16, 24, 33, 40, 60, len(digit_png) // 2, len(digit_png) - 13):
        corpus.append((f"truncated-{cut}.png", digit_png[:cut]))
    for cut in (2, 3, 10, 20, 100, len(digit_jpeg) // 3, len(digit_jpeg) // 2):
        corpus.append((f"truncated-{cut}.jpg", digit_jpeg[:cut]))
    for side in (3000, 5000, 20000, 65535, 100000, 2**31 - 1):
        corpus.append((f"bomb-{side}.png", _png_bomb(side, side)))
        corpus.append((f"bomb-{side}.gif", _gif_declaring(min(side, 65535), min(side, 65535))))
    for width, height in ((1, 10_000_000), (10_000_000, 1), (0, 10), (10, 0), (0, 0)):
        corpus.append((f"huge-{width}x{height}.png", _png_declaring(width, height)))
    others = {
        "note.png": b"just some text, not an image\n",
        "page.png": b"<!doctype html><script>alert(1)</script>",
        "vector.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "doc.pdf": b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "archive.png": b"PK\x03\x04" + b"\x00" * 60,
        "program.jpg": b"\x7fELF\x02\x01\x01" + b"\x00" * 60,
        "script.png": b"#!/bin/sh\nrm -rf /\n",
        "zeros.png": b"\x00" * 4096,
        "ones.jpg": b"\xff" * 4096,
        "empty.png": b"",
        "one-byte.png": b"\x89",
        "magic-only.png": b"\x89PNG\r\n\x1a\n",
        "soi-only.jpg": b"\xff\xd8",
        "tiff.png": b"II*\x00\x08\x00\x00\x00" + b"\x00" * 40,
        "ico.png": b"\x00\x00\x01\x00\x01\x00\x10\x10" + b"\x00" * 40,
        "psd.png": b"8BPS\x00\x01" + b"\x00" * 40,
        "numpy.png": b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}",
        "torch.png": b"PK\x03\x04archive/data.pklPK",
        "json.png": b'{"not": "an image"}',
        "utf16.png": "not an image".encode("utf-16"),
    }
    corpus += list(others.items())
    broken_crc = bytearray(digit_png)
    broken_crc[29] ^= 0xFF  # inside IHDR: its CRC no longer matches
    corpus.append(("bad-crc.png", bytes(broken_crc)))
    for seed in range(28):
        rng = __import__("random").Random(seed)
        prefix = rng.choice([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"BM", b"RIFF"])
        corpus.append((f"noise-{seed}.png", prefix + rng.randbytes(rng.randint(0, 2048))))
    for seed in range(8):
        rng = __import__("random").Random(100 + seed)
        flipped = bytearray(digit_png)
        for _ in range(8):
            flipped[rng.randrange(8, len(flipped))] ^= 0xFF
        corpus.append((f"flipped-{seed}.png", bytes(flipped)))
    return corpus


def test_a_hostile_corpus_gets_a_4xx_naming_each_problem_and_valid_images_still_work(
    client: TestClient, run_id: int, digits_root: Path, tmp_path: Path
) -> None:
    digit = _load(_val_digits(digits_root)[0]).resize((64, 64))
    digit_png = _png(digit)
    buffer = io.BytesIO()
    digit.save(buffer, format="JPEG")
    marker = tmp_path / "pickle-was-executed"
    corpus = _hostile_corpus(digit_png, buffer.getvalue(), marker)
    corpus.append(("too-big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_BYTES + 1)))
    assert len(corpus) >= 100
    process = psutil.Process()
    ok = _predict(client, run_id, [("warm.png", digit_png)])  # the model loads first
    assert ok.status_code == 200
    rss_before = process.memory_info().rss
    refused = 0
    for name, data in corpus:
        response = _predict(client, run_id, [(name, data)])
        # Some noise still decodes into an image (a valid GIF header with a tiny frame...).
        if response.status_code == 200:
            continue
        assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
        message = response.json()["error"]["message"]
        assert name in message, (name, message)
        refused += 1
    grown = process.memory_info().rss - rss_before
    assert refused >= 95, refused
    assert grown < 150 * 1024**2, f"RSS grew {grown / 1024**2:.0f} MiB over the corpus"
    assert not marker.exists()
    # A batch mixing a good image with a bad one is refused as a whole, naming the bad one.
    mixed = _predict(client, run_id, [("good.png", digit_png), ("bad.png", b"nope")])
    assert mixed.status_code == 422 and "bad.png" in mixed.json()["error"]["message"]
    after = _predict(client, run_id, [("after.png", digit_png)])
    assert after.status_code == 200 and after.json()["results"][0]["predictions"]


@pytest.mark.parametrize(
    ("fields", "status", "named"),
    [
        ({"top_k": "0"}, 422, "top_k"),
        ({"top_k": "21"}, 422, "top_k"),
        ({"top_k": "three"}, 422, "top_k"),
        ({"saliency": "maybe"}, 422, "saliency"),
        ({"checkpoint": "../../etc"}, 422, "best, last or epoch_N"),
        ({"checkpoint": "epoch_9"}, 404, "available: best, last, epoch_001, epoch_002"),
        ({"target": "not-a-class"}, 422, "no class 'not-a-class'"),
        ({"colour": "red"}, 422, "unknown form field 'colour'"),
    ],
)
def test_bad_form_fields_are_named(
    client: TestClient, run_id: int, fields: dict[str, str], status: int, named: str
) -> None:
    image = _png(Image.new("RGB", (16, 16), "white"))
    response = _predict(client, run_id, [("white.png", image)], **fields)
    assert response.status_code == status, response.text
    assert named in response.json()["error"]["message"]


def test_requests_without_images_or_with_too_many_are_refused(
    client: TestClient, run_id: int
) -> None:
    none = client.post(f"/api/v1/runs/{run_id}/predict", data={"top_k": "3"})
    assert none.status_code == 422 and "attach one or more images" in none.text
    image = _png(Image.new("RGB", (16, 16)))
    many = _predict(client, run_id, [(f"{i}.png", image) for i in range(5)])
    assert 400 <= many.status_code < 500
    missing = _predict(client, 999_999, [("a.png", image)])
    assert missing.status_code == 404


# ---- the model cache ----------------------------------------------------------------------------


def test_the_cache_reuses_models_and_evicts_the_least_recently_used_beyond_its_budget(
    analysis_run: Path,
) -> None:
    loads: list[str] = []

    def loader(run_dir: Path, checkpoint: str):  # noqa: ANN202 - a Classifier
        from visionyard.analysis.classifier import load_classifier

        loads.append(checkpoint)
        return load_classifier(run_dir, checkpoint, device="cpu")

    probe = ModelCache(max_bytes=0, loader=loader)
    one = model_bytes(probe.get(analysis_run, "best"))
    cache = ModelCache(max_bytes=int(2.5 * one), loader=loader)
    loads.clear()
    best = cache.get(analysis_run, "best")
    assert cache.get(analysis_run, "best") is best and loads == ["best"]
    cache.get(analysis_run, "last")
    cache.get(analysis_run, "best")  # best is now the most recently used
    cache.get(analysis_run, "epoch_1")  # a third model: "last" goes
    assert loads == ["best", "last", "epoch_001"]
    assert len(cache) == 2 and cache.held_bytes <= 2.5 * one
    assert cache.get(analysis_run, "best") is best
    cache.get(analysis_run, "last")
    assert loads[-1] == "last"
    alone = ModelCache(max_bytes=1, loader=loader)
    alone.get(analysis_run, "best")
    assert len(alone) == 1  # over budget alone, but the model in use stays
