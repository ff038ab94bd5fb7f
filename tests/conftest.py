"""Shared fixtures: the real digits dataset and tiny local models, built once per session."""

from __future__ import annotations

import os

# Before anything imports transformers/huggingface_hub: never reach for the (unreachable) Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from visionyard.training.demo import write_digits_dataset, write_tiny_model

#: the `browser` and `page` fixtures (a real Chromium, see tests/browser.py)
pytest_plugins = ("tests.browser",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks each test that uses the PostgreSQL server `postgresql` (`make test-fast` runs the
    SQLite half of the backend matrix; `make test` runs both).

    Every CUDA-only test carries the `gpu` marker, so that `-m gpu` selects exactly the tests a
    GPU machine adds: a test skipped for want of CUDA without the marker is refused here."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        on_matrix = "postgresql" in (params.get("db_url"), params.get("backend"))
        if on_matrix or "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)
    unmarked = [
        item.nodeid
        for item in items
        if item.get_closest_marker("gpu") is None
        and any(
            "cuda" in str(mark.kwargs.get("reason", "")).lower()
            for mark in item.iter_markers("skipif")
        )
    ]
    if unmarked:
        raise pytest.UsageError(
            "CUDA-only tests without @pytest.mark.gpu: " + ", ".join(sorted(unmarked))
        )


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """The test's VISIONYARD_MODELS_DIR: local model folders must live under it."""
    return tmp_path / "models"


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id as in production, with a test-sized work factor, in this process only.

    The production parameters (64 MiB, 3 passes, tuned to cost a CPU about a second under load)
    are the point of a password hash, not of these tests: every app a test builds hashes the
    bootstrap admin's password and every login verifies one, and at production cost that was a
    second or more of most dashboard and agent tests. Hashes keep their format, salt and length
    (and verify with whichever parameters they record); processes the tests start (`serve`,
    `up`) keep the production parameters."""
    from argon2 import PasswordHasher

    from visionyard.dashboard import security

    patch = pytest.MonkeyPatch()
    patch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def digits_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """scikit-learn's 1,797 real 8x8 digits as ImageFolder train/val/test."""
    root = tmp_path_factory.mktemp("data") / "digits"
    write_digits_dataset(root)
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """tiny_model("vit" | "resnet" | "convnext") -> a save_pretrained folder."""
    base = tmp_path_factory.mktemp("models")
    cache: dict[str, Path] = {}

    def make(arch: str) -> Path:
        if arch not in cache:
            cache[arch] = write_tiny_model(base / f"tiny-{arch}", arch=arch)
        return cache[arch]

    return make


@pytest.fixture(scope="session")
def analysis_run(digits_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ResNet trained 2 epochs on the real digits (10 classes), per-epoch checkpoints
    kept, model exported: runs/analysis."""
    from visionyard.training.config import build_config
    from visionyard.training.runner import train

    out = tmp_path_factory.mktemp("analysis-runs")
    # Its own model folder: the dashboard tests override `tiny_model` per test.
    model = write_tiny_model(out / "tiny-resnet", arch="resnet")
    result = train(
        build_config(
            {
                "root": str(digits_root),
                "model_flavour": str(model),
                "epochs": 2,
                "batch_size": 64,
                "lr": 3e-3,
                "num_workers": 0,
                "train_preset": "light",
                "output_dir": str(out),
                "run_name": "analysis",
                "progress_bar": False,
                "seed": 0,
                "save_per_epoch_checkpoint": True,
            }
        )
    )
    assert result.status == "succeeded"
    return result.run_dir


@pytest.fixture
def small_dataset(digits_root: Path, tmp_path: Path) -> Path:
    """A writable 3-class copy of a slice of digits (train 12/class, val 4/class, test 4/class),
    for tests that break the dataset on purpose."""
    root = tmp_path / "small"
    for split, per_class in (("train", 12), ("val", 4), ("test", 4)):
        for cls in ("0", "1", "2"):
            src = sorted((digits_root / split / cls).iterdir())[:per_class]
            dst = root / split / cls
            dst.mkdir(parents=True)
            for f in src:
                shutil.copy(f, dst / f.name)
    return root


@pytest.fixture
def base_config(small_dataset: Path, tiny_model: Callable[[str], Path], tmp_path: Path) -> dict:
    """A fast, valid config on the small dataset; tests update it."""
    return {
        "root": str(small_dataset),
        "model_flavour": str(tiny_model("resnet")),
        "epochs": 1,
        "batch_size": 8,
        "lr": 1e-3,
        "num_workers": 0,
        "eval_topk": [1, 2],
        "train_preset": "light",
        "output_dir": str(tmp_path / "runs"),
        "run_name": "t",
        "progress_bar": False,
        "seed": 0,
    }


# ---- databases ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database URL, once per backend."""
    from tests.dbutil import fresh_pg_database, fresh_sqlite_database, pg_admin_url

    if request.param == "sqlite":
        with fresh_sqlite_database(tmp_path) as url:
            yield url
        return
    if pg_admin_url() is None:
        pytest.skip("PostgreSQL not reachable (set VISIONYARD_TEST_PG_URL; .ci/run starts it)")
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A freshly migrated PostgreSQL database (for PostgreSQL-only behaviour)."""
    from tests.dbutil import fresh_pg_database, pg_admin_url

    if pg_admin_url() is None:
        pytest.skip("PostgreSQL not reachable (set VISIONYARD_TEST_PG_URL; .ci/run starts it)")
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    from tests.dbutil import fresh_sqlite_database

    with fresh_sqlite_database(tmp_path) as url:
        yield url
