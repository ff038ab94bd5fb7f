"""End to end through `train()`: real digits, real tiny HF models, real files on disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from visionyard.errors import ConfigError, DatasetError, ModelLoadError
from visionyard.training.config import build_config
from visionyard.training.control import StopSignal
from visionyard.training.runner import train


def read_events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


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


def _final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(run_dir / "checkpoints" / "last" / "model.safetensors")


def _assert_same_run(a: Path, b: Path) -> None:
    wa, wb = _final_weights(a), _final_weights(b)
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    ha, hb = results(a)["history"], results(b)["history"]
    assert [h["val"] for h in ha] == [h["val"] for h in hb]
    # a run resumed mid-epoch reports no train mean for the partial epoch; compare the rest
    for x, y in zip(ha, hb, strict=True):
        if x["train"] and y["train"]:
            assert x["train"] == y["train"]
    sa = json.loads((a / "checkpoints" / "last" / "state.json").read_text())
    sb = json.loads((b / "checkpoints" / "last" / "state.json").read_text())
    assert sa["step"] == sb["step"]


class StopAfterPolls(StopSignal):
    """A stop request that arrives after the loop has polled `n` times (once per optimizer step)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.remaining = n

    def is_set(self) -> bool:
        self.remaining -= 1
        if self.remaining < 0:
            self.set("test stop")
        return super().is_set()


def test_resume_at_epoch_boundary_is_bit_identical(base_config: dict, tmp_path: Path) -> None:
    """R10 at an epoch boundary: 4 epochs straight == 2 epochs, stop, resume for the other 2."""
    cfg = base_config | {"epochs": 4}
    straight = train(build_config(cfg | {"run_name": "straight"}))
    # 5 steps per epoch; polls: 5 steps + 1 epoch-end check, then 5 steps: the 11th poll is the
    # last step of epoch 2, so the run stops right after that epoch's checkpoint.
    half = train(build_config(cfg | {"run_name": "split"}), stop=StopAfterPolls(10))
    assert half.status == "stopped" and half.epochs_completed == 2
    state = json.loads((half.run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert (state["epoch"], state["batches_done"]) == (2, 0)
    resumed = train(build_config(cfg | {"run_name": "split"}))
    assert resumed.status == "succeeded" and resumed.epochs_completed == 4
    _assert_same_run(straight.run_dir, resumed.run_dir)
    resumed_events = [e for e in read_events(resumed.run_dir) if e["type"] == "state"]
    assert any(e["state"] == "resumed" for e in resumed_events)


def test_stop_mid_epoch_then_resume_is_bit_identical(base_config: dict) -> None:
    """R10 mid-epoch: a stop request saves `last` at the current step; resuming finishes the run
    with the same weights and metrics as an uninterrupted run (augmentation included)."""
    cfg = base_config | {"epochs": 3, "train_preset": "standard", "grad_accum_steps": 2}
    straight = train(build_config(cfg | {"run_name": "straight"}))
    stopped = train(build_config(cfg | {"run_name": "split"}), stop=StopAfterPolls(4))
    assert stopped.status == "stopped" and stopped.epochs_completed == 1
    state = json.loads((stopped.run_dir / "checkpoints" / "last" / "state.json").read_text())
    assert state["batches_done"] > 0  # genuinely mid-epoch
    resumed = train(build_config(cfg | {"run_name": "split"}))
    assert resumed.status == "succeeded"
    _assert_same_run(straight.run_dir, resumed.run_dir)


def test_torn_last_checkpoint_falls_back_to_an_older_valid_one(base_config: dict) -> None:
    """R11 through the runner: a truncated last/ is skipped with a warning, never fatal."""
    cfg = base_config | {"epochs": 2, "save_per_epoch_checkpoint": True}
    first = train(build_config(cfg))
    weights = first.run_dir / "checkpoints" / "last" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    again = train(build_config(cfg | {"epochs": 3}))
    assert again.status == "succeeded" and again.epochs_completed == 3
    warnings = [
        e for e in read_events(first.run_dir) if e["type"] == "log" and "skipping" in e["message"]
    ]
    assert warnings and "last" in warnings[0]["message"]
    assert (first.run_dir / "checkpoints" / "epoch_002" / "MANIFEST.json").is_file()


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


# ---- bad input: a clear error, and nothing written ---------------------------------------------


def _expect_rejected(cfg_dict: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        train(build_config(cfg_dict))
    assert not Path(cfg_dict["output_dir"]).exists(), "a rejected run must not create files"


def test_missing_val_split(base_config: dict, small_dataset: Path) -> None:
    import shutil

    shutil.rmtree(small_dataset / "val")
    _expect_rejected(base_config, DatasetError, "val")


def test_val_class_set_differs_from_train(base_config: dict, small_dataset: Path) -> None:
    (small_dataset / "val" / "2").rename(small_dataset / "val" / "9")
    _expect_rejected(base_config, DatasetError, "9")


def test_corrupt_image_is_named(base_config: dict, small_dataset: Path) -> None:
    bad = next((small_dataset / "train" / "1").iterdir())
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    _expect_rejected(base_config, DatasetError, bad.name)


def test_empty_class_folder(base_config: dict, small_dataset: Path) -> None:
    (small_dataset / "train" / "3").mkdir()
    _expect_rejected(base_config, DatasetError, "3")


def test_hub_id_while_offline(base_config: dict) -> None:
    _expect_rejected(
        base_config | {"model_flavour": "google/vit-base-patch16-224"}, ModelLoadError, "offline"
    )


def test_monitoring_a_topk_the_dataset_cannot_have(base_config: dict) -> None:
    _expect_rejected(
        base_config | {"eval_topk": [1, 5], "monitor_metric": "acc@5"}, ConfigError, "acc@5"
    )


def test_topk_larger_than_class_count_is_skipped_with_a_note(base_config: dict) -> None:
    result = train(build_config(base_config | {"eval_topk": [1, 2, 5]}))
    assert results(result.run_dir)["skipped_topk"] == [5]
    assert "acc@2" in result.val and "acc@5" not in result.val
    notes = [e["message"] for e in read_events(result.run_dir) if e["type"] == "log"]
    assert any("acc@5 skipped" in n for n in notes)


def test_zero_workers_ignores_worker_only_loader_options(base_config: dict) -> None:
    cfg = base_config | {"num_workers": 0, "prefetch_factor": 4, "persistent_workers": True}
    assert train(build_config(cfg)).status == "succeeded"


def test_existing_run_with_another_config_is_refused(base_config: dict) -> None:
    from visionyard.errors import RunStateError

    train(build_config(base_config))
    with pytest.raises(RunStateError, match="lr"):
        train(build_config(base_config | {"lr": 0.5}))
    with pytest.raises(RunStateError, match="already holds a run"):
        train(build_config(base_config | {"resume": "never"}))
