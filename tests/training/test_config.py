"""TrainConfig: original field names load, overrides apply, bad input names the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visionyard.errors import ConfigError
from visionyard.training.config import (
    FIELD_NAMES,
    TRAIN_PRESETS,
    TrainConfig,
    build_config,
    config_json_schema,
    load_config,
    parse_override,
)

ORIGINAL_FLAT = {
    "root": "/data/flowers",
    "model_flavour": "google/vit-base-patch16-224",
    "batch_size": 64,
    "epochs": 20,
    "lr": 5e-5,
    "load_pretrained": True,
    "freeze_backbone": False,
    "monitor_metric": "acc@1",
    "monitor_mode": "max",
    "tb_root": "tb",
    "ckpt_dir": "ckpts",
    "loss_name": "cross_entropy",
    "num_workers": 4,
    "prefetch_factor": 2,
    "persistent_workers": True,
    "optimizer": "adamw",
    "weight_decay": 0.05,
    "max_grad_norm": 1.0,
    "warmup_ratio": 0.1,
    "grad_accum_steps": 2,
    "seed": 1,
    "autocast_dtype": "torch.bfloat16",
    "run_name": "vit-flowers",
    "eval_topk": [1, 5],
    "model_suffix": "ft",
    "save_per_epoch_checkpoint": True,
    "max_datapoints_per_class": 100,
    "gpu_batch_aug": True,
    "cpu_color_jitter": True,
    "class_labels": ["daisy", "rose"],
    "label2id": {"daisy": 0, "rose": 1},
    "id2label": {"0": "daisy", "1": "rose"},
}


def test_original_flat_json_loads(tmp_path: Path) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(ORIGINAL_FLAT))
    cfg = load_config(path)
    assert cfg.autocast_dtype == "bf16"
    assert cfg.cpu_color_jitter == 0.4
    assert cfg.id2label == {0: "daisy", 1: "rose"}
    assert cfg.expected_classes == ["daisy", "rose"]
    # every original field survives a dump/load round trip
    again = TrainConfig.model_validate(cfg.model_dump(mode="json"))
    assert again == cfg


def test_yaml_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("root: /d\nmodel_flavour: ./m\nepochs: 3\neval_topk: [1, 3]\n")
    cfg = load_config(path, ["lr=3e-4", "epochs=7", "optimizer=SGD", "max_grad_norm=0"])
    assert (cfg.lr, cfg.epochs, cfg.optimizer, cfg.eval_topk) == (3e-4, 7, "sgd", [1, 3])
    assert cfg.max_grad_norm is None


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("bf16", "bf16"),
        ("torch.bfloat16", "bf16"),
        ("fp16", "fp16"),
        ("torch.float16", "fp16"),
        ("fp32", "fp32"),
        ("torch.float32", "fp32"),
        ("auto", "auto"),
    ],
)
def test_autocast_spellings(spelling: str, expected: str) -> None:
    cfg = build_config({"root": "r", "model_flavour": "m", "autocast_dtype": spelling})
    assert cfg.autocast_dtype == expected


def test_num_workers_is_left_to_the_machine_unless_set() -> None:
    base = {"root": "r", "model_flavour": "m"}
    assert build_config(base).num_workers is None
    for spelling in ("auto", "AUTO", " auto ", None):
        assert build_config(base | {"num_workers": spelling}).num_workers is None
    assert build_config(base | {"num_workers": 6}).num_workers == 6
    key, value = parse_override("num_workers=auto")
    assert build_config(base | {key: value}).num_workers is None
    for bad in (-1, "some", 1.5):
        with pytest.raises(ConfigError) as info:
            build_config(base | {"num_workers": bad})
        assert "num_workers" in str(info.value) and str(bad) in str(info.value)
    with pytest.raises(ConfigError, match='or "auto" to size them to the machine'):
        build_config(base | {"num_workers": "many"})


def test_unknown_key_is_named_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        build_config({"root": "r", "model_flavour": "m", "i2label": {"0": "a"}})
    assert "i2label" in str(info.value) and "id2label" in str(info.value)
    assert info.value.fields[0]["field"] == "i2label"


def test_wrong_type_names_the_field_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        build_config({"root": "r", "model_flavour": "m", "batch_size": "lots"})
    assert "batch_size" in str(info.value) and "lots" in str(info.value)


def test_unknown_override_key_and_malformed_override() -> None:
    with pytest.raises(ConfigError, match="unknown key 'lrr'.*'lr'"):
        parse_override("lrr=1")
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("epochs")


def test_missing_required_fields() -> None:
    with pytest.raises(ConfigError, match="root: is required"):
        build_config({"model_flavour": "m"})


def test_monitor_metric_spellings_and_mode() -> None:
    cfg = build_config({"root": "r", "model_flavour": "m", "monitor_metric": "val_loss"})
    assert cfg.monitor_metric == "loss" and cfg.resolved_monitor_mode == "min"
    with pytest.raises(ConfigError, match="monitor_metric"):
        build_config({"root": "r", "model_flavour": "m", "monitor_metric": "bleu"})


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="one object"):
        load_config(listy)


def test_unsafe_names_refused() -> None:
    for field, value in [
        ("run_name", "../escape"),
        ("run_name", "a/b"),
        ("model_suffix", "x y"),
        ("model_flavour", "https://evil.example/model"),
    ]:
        with pytest.raises(ConfigError, match=field):
            build_config({"root": "r", "model_flavour": "m", field: value})


def test_json_schema_lists_every_field() -> None:
    schema = config_json_schema()
    assert set(schema["properties"]) == set(FIELD_NAMES)
    assert set(schema["required"]) == {"root", "model_flavour"}


_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(sorted(FIELD_NAMES)) | st.text(min_size=1, max_size=12),
        _json_values,
        max_size=8,
    )
)
def test_hypothesis_configs_are_valid_or_a_config_error(data: dict) -> None:
    """S3: any JSON-ish input is either a valid TrainConfig or a ConfigError naming a field."""
    data = {"root": "r", "model_flavour": "m"} | data
    try:
        cfg = build_config(data)
    except ConfigError as exc:
        assert exc.fields, "a ConfigError from validation must carry field-level errors"
        assert all(f["field"] for f in exc.fields)
    else:
        assert isinstance(cfg, TrainConfig)
        TrainConfig.model_validate(cfg.model_dump(mode="json"))


def test_the_train_presets_listed_are_the_ones_the_field_accepts() -> None:
    """TRAIN_PRESETS (the descriptions the dashboard offers without importing torchvision) and
    the train_preset field's choices are the same list."""
    assert list(get_args(TrainConfig.model_fields["train_preset"].annotation)) == list(
        TRAIN_PRESETS
    )
    assert all(TRAIN_PRESETS.values())
