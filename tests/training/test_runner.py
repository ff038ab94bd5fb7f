"""End to end through `train()`: real digits, real tiny HF models, real files on disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from tests.training.runfolder import read_events, results

from visionyard.training import jpeg_crop
from visionyard.training.config import build_config
from visionyard.training.confighash import config_hash
from visionyard.training.runner import train


@pytest.mark.slow
def test_digits_training_learns_and_exports_a_pipeline_model(
    digits_root: Path, tiny_model: Callable[[str], Path], tmp_path: Path
) -> None:
    cfg = build_config(
        {
            "root": str(digits_root),
            "model_flavour": str(tiny_model("resnet")),
            "epochs": 6,
            "batch_size": 64,
            "lr": 3e-3,
            "weight_decay": 0.01,
            "train_preset": "light",
            "cache_images": True,
            "num_workers": 0,
            "eval_topk": [1, 3],
            "output_dir": str(tmp_path / "runs"),
            "run_name": "digits",
            "progress_bar": False,
            "seed": 0,
        }
    )
    result = train(cfg)
    run_dir = result.run_dir
    assert result.status == "succeeded"
    for name in ("config.json", "env.json", "dataset.json", "events.jsonl", "results.json"):
        assert (run_dir / name).is_file(), name
    for name in ("last", "best"):
        assert (run_dir / "checkpoints" / name / "MANIFEST.json").is_file()
    assert list((run_dir / "tb").glob("events.out.tfevents.*"))

    history = results(run_dir)["history"]
    train_losses = [h["train"]["loss"] for h in history]
    assert train_losses[-1] < 0.6 * train_losses[0], train_losses
    test = results(run_dir)["test"]["scalars"]
    assert test["acc@1"] > 0.6, test  # chance is 0.1

    # The exported folder is a real HF model: pipeline() loads it and predicts class names.
    from PIL import Image
    from transformers import pipeline

    classifier = pipeline("image-classification", model=str(run_dir / "model"), device="cpu")
    files = sorted((digits_root / "test").glob("*/*.png"))
    outputs = classifier([Image.open(f).convert("RGB") for f in files], top_k=1)
    predicted = [out[0]["label"] for out in outputs]
    truth = [f.parent.name for f in files]
    assert set(predicted) <= {str(i) for i in range(10)}
    pipeline_acc = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(files)
    # Same images, same weights, same preprocessing: the numbers must agree.
    assert abs(pipeline_acc - test["acc@1"]) <= 1.5 / len(files), (pipeline_acc, test["acc@1"])
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["id2label"] == {str(i): str(i) for i in range(10)}


@pytest.mark.parametrize("arch", ["vit", "resnet", "convnext"])
def test_each_tiny_architecture_trains_and_exports(
    arch: str, base_config: dict, tiny_model: Callable[[str], Path]
) -> None:
    result = train(build_config(base_config | {"model_flavour": str(tiny_model(arch))}))
    assert result.status == "succeeded"
    from transformers import AutoModelForImageClassification

    model = AutoModelForImageClassification.from_pretrained(result.run_dir / "model")
    assert model.config.id2label == {0: "0", 1: "1", 2: "2"}


def test_training_options_run(base_config: dict) -> None:
    """The recipe knobs all run together on CPU: focal loss + balanced sampling, mixup/cutmix
    with smoothing and class weights, bf16 autocast, SGD, linear schedule, gpu_batch_aug path."""
    first = train(
        build_config(
            base_config
            | {
                "run_name": "focal",
                "loss_name": "focal",
                "balanced_sampling": True,
                "optimizer": "sgd",
                "scheduler": "linear",
                "warmup_ratio": 0.2,
            }
        )
    )
    second = train(
        build_config(
            base_config
            | {
                "run_name": "mix",
                "mixup_alpha": 0.2,
                "cutmix_alpha": 1.0,
                "label_smoothing": 0.1,
                "class_weights": "balanced",
                "autocast_dtype": "bf16",
                "gpu_batch_aug": True,
                "channels_last": True,
                "max_datapoints_per_class": [10, 8, 12],
            }
        )
    )
    assert first.status == second.status == "succeeded"
    fingerprint = json.loads((second.run_dir / "dataset.json").read_text())
    assert fingerprint["counts"]["train"] == {"0": 10, "1": 8, "2": 12}
    # env.json and every checkpoint record the hash of the config.json the run wrote.
    config = json.loads((second.run_dir / "config.json").read_text())
    env = json.loads((second.run_dir / "env.json").read_text())
    state = json.loads((second.run_dir / "checkpoints" / "best" / "state.json").read_text())
    assert env["config_hash"] == state["config_hash"] == config_hash(config)


def test_topk_larger_than_class_count_is_skipped_with_a_note(base_config: dict) -> None:
    result = train(build_config(base_config | {"eval_topk": [1, 2, 5]}))
    assert results(result.run_dir)["skipped_topk"] == [5]
    assert "acc@2" in result.val and "acc@5" not in result.val
    notes = [e["message"] for e in read_events(result.run_dir) if e["type"] == "log"]
    assert any("acc@5 skipped" in n for n in notes)


def test_zero_workers_ignores_worker_only_loader_options(base_config: dict) -> None:
    cfg = base_config | {"num_workers": 0, "prefetch_factor": 4, "persistent_workers": True}
    assert train(build_config(cfg)).status == "succeeded"


def test_settings_left_to_the_machine_are_chosen_at_start_and_the_log_says_why(
    base_config: dict,
) -> None:
    cfg = {k: v for k, v in base_config.items() if k != "num_workers"}
    result = train(build_config(cfg))  # a ResNet
    assert result.status == "succeeded"
    notes = [e["message"] for e in read_events(result.run_dir) if e["type"] == "log"]
    assert any(n.startswith("data loader workers: 0 (auto: training on the CPU") for n in notes)
    assert "memory format: channels-last (auto: a convolutional model)" in notes
    # Digits are PNGs: nothing to say about JPEG decoding.
    assert not any(n.startswith("training JPEG decoding") for n in notes)
    saved = json.loads((result.run_dir / "config.json").read_text())
    # The settings, not what they resolved to here: a resume elsewhere chooses afresh.
    assert saved["num_workers"] is None and saved["channels_last"] is None


@pytest.mark.skipif(
    not jpeg_crop.available(), reason="the partial JPEG decoder is not built (test_jpeg_crop.py)"
)
@pytest.mark.parametrize("scaled", [False, True], ids=["exact", "scaled"])
def test_a_jpeg_dataset_trains_from_partially_decoded_crops_and_the_log_says_so(
    base_config: dict, scaled: bool
) -> None:
    root = Path(base_config["root"])
    for png in list(root.rglob("*.png")):
        with Image.open(png) as image:
            image.convert("RGB").save(png.with_suffix(".jpg"), quality=90)
        png.unlink()
    # train_preset "light": a random crop first
    result = train(build_config({**base_config, "jpeg_scaled_decode": scaled}))
    assert result.status == "succeeded"
    notes = [e["message"] for e in read_events(result.run_dir) if e["type"] == "log"]
    said = [n for n in notes if n.startswith("training JPEG decoding: ")]
    assert len(said) == 1
    assert said[0].startswith(
        "training JPEG decoding: only each sample's random crop (partial decoding)"
    )
    assert ("jpeg_scaled_decode" in said[0]) == scaled
