"""Model testing latency: what a user waits for per image, in one process.

Trains a tiny model on the bundled digits (a few seconds on the CPU), then times
`POST /runs/{id}/predict` through the real app (multipart upload, decoding, the model cache,
the worker thread) for: the first request (the model loads: torch and Transformers are already
imported here, so this is the checkpoint load itself), later requests with and without the
Grad-CAM overlay, for a digit (8x8) and a photo-sized image (1024x768). Prints the median of
--repeat requests per case and the ratios that matter: cold/warm (what the cache saves) and
saliency/plain (what the overlay costs).

    PYTHONPATH=src python bench/model_testing_bench.py [--arch resnet|vit|convnext] [--repeat 20]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "src")]

from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from visionyard.dashboard.app import create_app  # noqa: E402
from visionyard.db.models import Project, Run, RunState  # noqa: E402
from visionyard.settings import load_settings  # noqa: E402
from visionyard.training.config import build_config  # noqa: E402
from visionyard.training.demo import write_digits_dataset, write_tiny_model  # noqa: E402
from visionyard.training.runner import train  # noqa: E402

TOKEN = "vy_bench-token-0123456789abcdef"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _trained_run(base: Path, arch: str) -> Path:
    digits = base / "datasets" / "digits"
    write_digits_dataset(digits)
    model = write_tiny_model(base / "models" / f"tiny-{arch}", arch=arch)
    config = {
        "root": str(digits),
        "model_flavour": str(model),
        "epochs": 1,
        "batch_size": 64,
        "num_workers": 0,
        "output_dir": str(base / "runs" / "bench"),
        "run_name": "bench",
        "progress_bar": False,
        "eval_report": False,
    }
    result = train(build_config(config))
    assert result.status == "succeeded", result
    return result.run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="resnet", choices=["resnet", "vit", "convnext"])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        run_dir = _trained_run(base, args.arch)
        settings = load_settings(
            data_dir=base / "data",
            datasets_dir=base / "datasets",
            runs_dir=base / "runs",
            models_dir=base / "models",
            db_url=f"sqlite:///{base / 'db.sqlite'}",
            admin_token=TOKEN,
            admin_password="bench-password-0123",
            allowed_hosts="testserver",
        )
        app = create_app(settings)
        with app.state.vy.sessions() as session, session.begin():
            project = Project(name="bench")
            session.add(project)
            session.flush()
            run = Run(
                project_id=project.id,
                name="bench",
                config_snapshot={},
                config_hash="0" * 64,
                state=RunState.succeeded,
                progress={},
                run_dir=str(run_dir),
            )
            session.add(run)
            session.flush()
            run_id = run.id
        digit_path = sorted((base / "datasets" / "digits" / "val" / "3").iterdir())[0]
        with Image.open(digit_path) as digit:
            images = {
                "digit 8x8": _png(digit.convert("RGB")),
                "photo 1024x768": _png(digit.convert("RGB").resize((1024, 768))),
            }
        with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:

            def request(data: bytes, saliency: bool) -> float:
                start = time.perf_counter()
                response = client.post(
                    f"/api/v1/runs/{run_id}/predict",
                    files=[("files", ("x.png", data, "image/png"))],
                    data={"saliency": str(saliency).lower()},
                )
                elapsed = time.perf_counter() - start
                assert response.status_code == 200, response.text
                return elapsed * 1000

            cold = request(images["digit 8x8"], saliency=False)
            print(f"arch={args.arch}  repeat={args.repeat}")
            print(f"first request (loads the checkpoint): {cold:8.1f} ms")
            for name, data in images.items():
                plain = statistics.median(request(data, False) for _ in range(args.repeat))
                overlay = statistics.median(request(data, True) for _ in range(args.repeat))
                print(
                    f"{name:15s} warm {plain:7.1f} ms  with saliency {overlay:7.1f} ms  "
                    f"saliency/plain {overlay / plain:5.2f}x  cold/warm {cold / plain:6.1f}x"
                )
        app.state.vy.engine.dispose()


if __name__ == "__main__":
    main()
