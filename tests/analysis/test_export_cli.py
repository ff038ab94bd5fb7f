"""`visionyard export` as a user runs it: a real subprocess, real exit codes, no tracebacks, and
the Hub failing for real (it cannot be reached from here: offline mode, or a closed port)."""

from __future__ import annotations

import json
import socket
import tarfile
from pathlib import Path

import pytest

from tests.test_cli import VISIONYARD, run
from visionyard.exitcodes import EXIT_BAD_INPUT, EXIT_UNREACHABLE


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_export_writes_a_validated_bundle(analysis_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run([*VISIONYARD, "export", str(analysis_run), "--checkpoint", "last", "--onnx",
                "--out", str(out)])  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["archive"] == str(out / "last-onnx.tar.gz")
    assert summary["checkpoint"]["name"] == "last" and summary["pushed"] is None
    assert summary["onnx"]["validated"] and summary["onnx"]["top1_agreement"] == 1.0
    assert summary["onnx"]["max_abs_logit_diff"] <= 1e-3
    with tarfile.open(summary["archive"]) as tar:
        assert "model/model.safetensors" in tar.getnames()
    assert (out / "last-onnx" / "bundle.json").is_file()


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--checkpoint", "final"], "unknown checkpoint 'final': use best, last or epoch_N"),
        (["--checkpoint", "epoch_9"], "no checkpoint 'epoch_009' (available: best, last"),
    ],
)
def test_a_bad_checkpoint_is_one_clear_line(
    analysis_run: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    proc = run([*VISIONYARD, "export", str(analysis_run), *args, "--out", str(tmp_path / "o")])
    assert proc.returncode == EXIT_BAD_INPUT and expected in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "o").exists()


def test_a_folder_that_is_not_a_run_is_one_clear_line(tmp_path: Path) -> None:
    proc = run([*VISIONYARD, "export", str(tmp_path)])
    assert proc.returncode == EXIT_BAD_INPUT
    assert "is not a run folder (no config.json)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_pushing_without_a_token_says_to_set_hf_token(analysis_run: Path, tmp_path: Path) -> None:
    env = {"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0"}
    proc = run([*VISIONYARD, "export", str(analysis_run), "--out", str(tmp_path / "o"),
                "--push-to-hub", "someone/digits"], env=env)  # fmt: skip
    assert proc.returncode == EXIT_BAD_INPUT
    assert "no Hugging Face token: set HF_TOKEN" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()  # refused before anything was built


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HF_HUB_OFFLINE": "1"}, "offline mode is on (HF_HUB_OFFLINE=1)"),
        ({"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:{port}"},
         "cannot reach the Hugging Face Hub at http://127.0.0.1:{port}"),
    ],
)  # fmt: skip
def test_an_unreachable_hub_is_one_clear_line(
    analysis_run: Path, tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    port = _closed_port()
    env = {k: v.format(port=port) for k, v in env.items()} | {"HF_TOKEN": "hf_not_a_real_token"}
    proc = run([*VISIONYARD, "export", str(analysis_run), "--out", str(tmp_path / "o"),
                "--push-to-hub", "someone/digits"], env=env, timeout=120)  # fmt: skip
    assert proc.returncode == EXIT_UNREACHABLE, proc.stderr
    assert expected.format(port=port) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
