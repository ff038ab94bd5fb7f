"""The real web UI build (web_ui/out, `make ui`) served by a real `visionyard serve`.

A missing build fails under `make test` (which builds it first) and skips elsewhere, with the
command that builds it, like a missing browser.
"""

from __future__ import annotations

import fcntl
import io
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import no_browser
from tests.dashboard.conftest import ADMIN_PASSWORD
from tests.liveserver import serving
from visionyard.dashboard.webui import DEFAULT_WEB_UI_DIR, is_built
from visionyard.settings import Settings, load_settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: how long a page may take to show its data on a busy 2-core machine
UI_TIMEOUT_MS = 20_000
#: the runs `trained_run` trains, by name: two 2-epoch trainings that differ only in lr
TRAINED_LRS = {"lr-small": 1e-3, "lr-large": 1e-2}


def require_build() -> Path:
    if not is_built(DEFAULT_WEB_UI_DIR):
        no_browser(f"the web UI is not built in {DEFAULT_WEB_UI_DIR}: run `make ui`")
    return DEFAULT_WEB_UI_DIR


@pytest.fixture
def ui_settings(tmp_path: Path, models_dir: Path) -> Settings:
    """A platform of its own on SQLite, serving the real build."""
    return load_settings(
        data_dir=tmp_path / "data",
        datasets_dir=tmp_path / "datasets",
        runs_dir=tmp_path / "runs",
        models_dir=models_dir,
        web_ui_dir=require_build(),
        events_poll_interval=0.1,
    )


@pytest.fixture
def ui_url(ui_settings: Settings, tmp_path: Path) -> Iterator[str]:
    with serving(ui_settings, tmp_path / "serve.log") as url:
        yield url


def log_in(page: Page, url: str, password: str = ADMIN_PASSWORD, username: str = "admin") -> None:
    """Log in through the login page, as a person does, and wait for the projects page."""
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/projects/", timeout=UI_TIMEOUT_MS)


@pytest.fixture
def logged_in(page: Page, ui_url: str) -> Callable[[], Page]:
    def go() -> Page:
        log_in(page, ui_url)
        return page

    return go


@pytest.fixture(scope="session")
def trained_run(
    tmp_path_factory: pytest.TempPathFactory,
    digits_root: Path,
    tiny_model: Callable[[str], Path],
) -> Callable[[str], Path]:
    """trained_run(name) -> the folder of a run really trained by the training core (the tiny
    ResNet, 2 epochs on a slice of digits, on the CPU; `TRAINED_LRS[name]` its lr), for tests that
    import a finished run. Each is trained once for the whole suite: the xdist workers share the
    folders (in the temp folder they all live in), one trains while the others wait on a lock."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the workers' temp folders are in the session's
    shared /= "trained-runs"
    shared.mkdir(exist_ok=True)

    def get(name: str) -> Path:
        done = shared / f"{name}.path"
        with (shared / f"{name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not done.exists():
                done.write_text(str(_train(shared / name, name, digits_root, tiny_model)))
        return Path(done.read_text())

    return get


def _train(out: Path, name: str, digits_root: Path, tiny_model: Callable[[str], Path]) -> Path:
    from visionyard.training.config import build_config
    from visionyard.training.runner import train

    result = train(
        build_config(
            {
                "root": str(digits_root),
                "model_flavour": str(tiny_model("resnet")),
                "max_datapoints_per_class": 8,
                "epochs": 2,
                "batch_size": 16,
                "lr": TRAINED_LRS[name],
                "num_workers": 0,
                "eval_topk": [1, 2],
                "output_dir": str(out),
                "run_name": name,
                "progress_bar": False,
                "log_every_steps": 1,
                "seed": 0,
            }
        )
    )
    assert result.status == "succeeded", result
    return result.run_dir


def tar_run(folder: Path, files: Iterable[str] | None = None) -> bytes:
    """A run folder as the import endpoint takes it (`files`: only these, else every file)."""
    paths = [folder / f for f in files] if files is not None else sorted(folder.rglob("*"))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in paths:
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()
