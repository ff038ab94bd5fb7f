"""`visionyard datasets register|list`: the API's register body from the command line."""

from __future__ import annotations

import json
import shutil
import uuid

from tests.client.conftest import Cli, Dashboard
from visionyard.exitcodes import EXIT_BAD_INPUT


def _copy_of_digits(dashboard: Dashboard, classes: int = 2) -> str:
    """A small dataset folder of its own under DATASETS_DIR (a folder registers once)."""
    folder = f"d-{uuid.uuid4().hex[:8]}"
    source = dashboard.settings.datasets_root / "digits"
    for split in ("train", "val"):
        for cls in [str(c) for c in range(classes)]:
            shutil.copytree(
                source / split / cls,
                dashboard.settings.datasets_root / folder / split / cls,
            )
    return folder


def test_register_analyses_the_folder_and_refuses_it_twice(dashboard: Dashboard, cli: Cli) -> None:
    folder = _copy_of_digits(dashboard)
    done = cli("datasets", "register", folder, folder, "--json")
    assert done.returncode == 0, done.stderr
    dataset = json.loads(done.stdout)
    assert dataset["path"] == folder and dataset["analysis"]["classes"] == ["0", "1"]

    listed = cli("datasets", "list")
    assert listed.returncode == 0 and folder in listed.stdout

    twice = cli("datasets", "register", f"{folder}-again", folder)
    assert twice.returncode == EXIT_BAD_INPUT
    assert f"is already registered as dataset '{folder}'" in twice.stderr


def test_register_outside_datasets_dir_or_missing_is_the_apis_message(
    dashboard: Dashboard, cli: Cli
) -> None:
    outside = cli("datasets", "register", "evil", "../../etc")
    assert outside.returncode == EXIT_BAD_INPUT and "'..' segments are refused" in outside.stderr
    missing = cli("datasets", "register", "ghost", "no-such-folder")
    assert missing.returncode == EXIT_BAD_INPUT and "no-such-folder" in missing.stderr
    assert "Traceback" not in outside.stderr + missing.stderr
