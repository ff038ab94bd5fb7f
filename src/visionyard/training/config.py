"""TrainConfig: the one typed, validated description of a training run.

The same JSON trains from the terminal (`python main.py --config x.json`, `visionyard train`) and
from the dashboard queue. Sources apply in order: defaults -> file (JSON/YAML) -> `--set key=value`
overrides -> validation. Unknown keys are an error naming the key (a silently ignored typo such as
`i2label` would lose label names without anyone noticing).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from visionyard.errors import ConfigError
from visionyard.text import check_text, text_problem
from visionyard.training import metric_registry

AUTOCAST_ALIASES: dict[str, str] = {
    "auto": "auto",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "torch.bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
    "torch.float16": "fp16",
    "torch.half": "fp16",
    "fp32": "fp32",
    "float32": "fp32",
    "float": "fp32",
    "torch.float32": "fp32",
    "torch.float": "fp32",
    "none": "fp32",
}
LOSS_ALIASES: dict[str, str] = {
    "cross_entropy": "cross_entropy",
    "ce": "cross_entropy",
    "crossentropy": "cross_entropy",
    "focal": "focal",
    "focal_loss": "focal",
}
#: train augmentation presets (`train_preset`) and what each does; built by
#: `visionyard.training.transforms`, listed here so the dashboard offers them without torchvision
TRAIN_PRESETS: dict[str, str] = {
    "none": "no augmentation: the eval resize/crop (debugging, exact determinism)",
    "light": "mild random resized crop (70-100% area, near-square), no flip: digits, text, medical",
    "standard": "random resized crop (8-100% area) + horizontal flip: natural photos",
    "strong": "standard + TrivialAugmentWide: small datasets that overfit",
}
_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

PositiveInt = Annotated[int, Field(ge=1)]
# Caps far above any real use, so absurd values fail at the boundary instead of deep inside.
TopK = Annotated[int, Field(ge=1, le=100_000)]
PerClassCap = Annotated[int, Field(ge=1, le=1_000_000_000)]


class TrainConfig(BaseModel):
    """Every knob of a training run. Field names marked (original) are a contract."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        protected_namespaces=(),
        json_schema_extra={"title": "Visionyard TrainConfig"},
    )

    # ---- data -------------------------------------------------------------------------------
    root: str = Field(
        description="(original) Dataset root holding train/, val/ and optional test/."
    )
    max_datapoints_per_class: PerClassCap | list[PerClassCap] | None = Field(
        None,
        description="(original) Cap training images per class: one int, or one per class in "
        "sorted class order. val/test are never capped.",
    )
    class_labels: list[str] | None = Field(
        None, description="(original) Expected class names; must match the train class folders."
    )
    label2id: dict[str, int] | None = Field(None, description="(original) Filled from the dataset.")
    id2label: dict[int, str] | None = Field(None, description="(original) Filled from the dataset.")
    image_check: Literal["full", "header", "off"] = Field(
        "header", description="How thoroughly images are checked before training starts."
    )
    skip_corrupt_images: bool = Field(
        False,
        description="Leave unreadable images out (listed in dataset.json) instead of failing.",
    )
    cache_images: bool = Field(
        False, description="Keep decoded images in memory (small datasets: skips PNG/JPEG decode)."
    )
    jpeg_scaled_decode: bool = Field(
        False,
        description="Decode a training JPEG at 1/2, 1/4 or 1/8 of its size when its random crop "
        "is at least that many times the model's input (camera-sized photos): faster, with pixels "
        "close to but not exactly those of a full-size decode.",
    )
    num_workers: int | None = Field(
        None,
        ge=0,
        le=256,
        description='DataLoader worker processes. Null, the default ("auto" means the same), '
        "sizes them to the machine: none when training on the CPU, else the usable cores per GPU "
        "less one, at most 8.",
    )
    prefetch_factor: PositiveInt | None = Field(
        2, description="(original) Batches prefetched per worker; ignored when num_workers=0."
    )
    persistent_workers: bool = Field(
        True,
        description="(original) Keep workers alive between epochs; ignored when num_workers=0.",
    )
    pin_memory: bool | None = Field(None, description="Pinned host memory; default: on with CUDA.")

    # ---- augmentation ---------------------------------------------------------------------
    train_preset: Literal["none", "light", "standard", "strong"] = Field(
        "standard",
        description="Train augmentation preset: none (eval resize), light (mild crop, no flip), "
        "standard (random-resized-crop + flip), strong (standard + TrivialAugment).",
    )
    cpu_color_jitter: float = Field(
        0.0, ge=0.0, le=1.0, description="(original) Colour jitter strength on CPU; true = 0.4."
    )
    gpu_batch_aug: bool = Field(
        False, description="(original) Batched flip + brightness/contrast jitter on the device."
    )
    mixup_alpha: float = Field(0.0, ge=0.0, le=10.0, description="MixUp Beta(alpha); 0 = off.")
    cutmix_alpha: float = Field(0.0, ge=0.0, le=10.0, description="CutMix Beta(alpha); 0 = off.")

    # ---- model ------------------------------------------------------------------------------
    model_flavour: str = Field(
        description="(original) Hugging Face model id or local save_pretrained folder."
    )
    load_pretrained: bool = Field(
        True, description="(original) Load weights; false builds the architecture from its config."
    )
    freeze_backbone: bool = Field(False, description="(original) Train only the classifier head.")
    model_suffix: str = Field(
        "", max_length=64, description="(original) Appended to generated run names."
    )

    # ---- optimisation -----------------------------------------------------------------------
    epochs: PositiveInt = Field(10, le=100_000, description="(original) Training epochs.")
    batch_size: PositiveInt = Field(
        32,
        le=65_536,
        description="(original) Batch size per process (per GPU). A torchrun launch with N "
        "processes trains with a global batch of N x batch_size (x grad_accum_steps); halve it "
        "when doubling the GPUs to keep the recipe.",
    )
    lr: float = Field(3e-4, gt=0.0, le=10.0, description="(original) Peak learning rate.")
    optimizer: Literal["adamw", "adam", "sgd"] = Field("adamw", description="(original)")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD momentum.")
    weight_decay: float = Field(0.05, ge=0.0, le=10.0, description="(original)")
    max_grad_norm: float | None = Field(
        1.0, ge=0.0, description="(original) Gradient clipping norm; 0 or null disables."
    )
    scheduler: Literal["cosine", "linear", "constant"] = Field(
        "cosine", description="LR schedule after warmup."
    )
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0, description="(original) Warmup fraction.")
    min_lr_ratio: float = Field(0.0, ge=0.0, le=1.0, description="Final LR as a fraction of lr.")
    grad_accum_steps: PositiveInt = Field(1, le=4096, description="(original)")
    loss_name: Literal["cross_entropy", "focal"] = Field("cross_entropy", description="(original)")
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0)
    focal_gamma: float = Field(2.0, ge=0.0, le=10.0)
    class_weights: Literal["none", "balanced"] | list[float] = Field(
        "none", description="Loss weights per class: none, balanced, or one float per class."
    )
    balanced_sampling: bool = Field(
        False, description="Sample classes uniformly (with replacement)."
    )

    # ---- precision and speed ------------------------------------------------------------------
    autocast_dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto",
        description="(original) Mixed precision: bf16, fp16 (with GradScaler) or fp32; auto = bf16 "
        "on CUDA GPUs that support it, fp32 elsewhere. 'torch.bfloat16' spellings accepted.",
    )
    channels_last: bool | None = Field(
        None,
        description="NHWC memory format. Null, the default, turns it on for convolutional models "
        "(ResNet, ConvNeXt...: faster convolutions on GPUs and CPUs) and off for transformers "
        "(ViT, Swin), whose batches it would only copy.",
    )
    compile: bool = Field(False, description="torch.compile the model.")
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N.")

    # ---- evaluation and monitoring --------------------------------------------------------------
    eval_topk: list[TopK] = Field(
        default_factory=lambda: [1, 5],
        description="(original) Top-k accuracies; k >= class count is skipped with a note.",
    )
    monitor_metric: str = Field("acc@1", description="(original) Metric choosing the best epoch.")
    monitor_mode: Literal["auto", "min", "max"] = Field(
        "auto",
        description="(original) auto: min for "
        + "/".join(m.name for m in metric_registry.METRICS if m.direction == "min")
        + ", max otherwise.",
    )
    eval_test: bool = Field(True, description="Evaluate the best checkpoint on test/ at the end.")

    # ---- output, checkpoints, resume -------------------------------------------------------------
    output_dir: str = Field("runs", description="Runs root: each run writes output_dir/run_name/.")
    run_name: str | None = Field(
        None, description="(original) Run folder name; default <model>-<suffix>-<timestamp>."
    )
    tb_root: str | None = Field(
        None,
        description="(original) TensorBoard root; default <run dir>/tb, else tb_root/run_name.",
    )
    ckpt_dir: str | None = Field(
        None,
        description="(original) Checkpoint root; default <run dir>/checkpoints.",
    )
    save_per_epoch_checkpoint: bool = Field(False, description="(original) Keep epoch_NNN/ copies.")
    checkpoint_every_steps: PositiveInt | None = Field(
        None, description="Also save last/ every N optimizer steps (bounds work lost to a crash)."
    )
    resume: str = Field(
        "auto",
        description="auto: continue from the run's newest valid checkpoint; never: refuse an "
        "existing run folder; or a path to a checkpoint folder.",
    )
    export_model: bool = Field(True, description="Export the best model to <run dir>/model/.")
    eval_report: bool = Field(
        True,
        description="At the end, write the best checkpoint's evaluation report on val "
        "(<run dir>/reports/best-val.json: confusion, calibration, mistakes, label issues).",
    )

    # ---- reproducibility and logging -------------------------------------------------------------
    seed: int = Field(42, ge=0, le=2**32 - 1, description="(original)")
    deterministic: bool = Field(False, description="torch deterministic algorithms (slower).")
    log_every_steps: PositiveInt = Field(10, description="Train-step loss/LR logging interval.")
    progress_bar: bool = Field(True, description="Terminal progress bar with ETA.")

    # ---- normalisation of the original spellings ----------------------------------------------
    @field_validator("autocast_dtype", mode="before")
    @classmethod
    def _autocast_alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            key = value.strip().lower()
            if key not in AUTOCAST_ALIASES:
                raise ValueError(
                    f"unknown autocast dtype {value!r}; use one of bf16, fp16, fp32, auto "
                    "(or torch.bfloat16 / torch.float16 / torch.float32)"
                )
            return AUTOCAST_ALIASES[key]
        return value

    @field_validator("loss_name", mode="before")
    @classmethod
    def _loss_alias(cls, value: Any) -> Any:
        if isinstance(value, str):
            return LOSS_ALIASES.get(value.strip().lower(), value)
        return value

    @field_validator("optimizer", "scheduler", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("num_workers", mode="before")
    @classmethod
    def _num_workers(cls, value: Any) -> Any:
        # "auto" reads better than null in a JSON config; both mean "sized to the machine".
        if isinstance(value, str):
            text = value.strip().lower()
            if text == "auto":
                return None
            if not text.isdigit():
                raise ValueError(
                    'use a number of worker processes (0 or more), or "auto" to size them to '
                    "the machine"
                )
        return value

    @field_validator("cpu_color_jitter", mode="before")
    @classmethod
    def _jitter_bool(cls, value: Any) -> Any:
        # The original design had an on/off switch; keep accepting it.
        if isinstance(value, bool):
            return 0.4 if value else 0.0
        return value

    @field_validator("max_grad_norm")
    @classmethod
    def _clip_off(cls, value: float | None) -> float | None:
        return None if value == 0 else value

    @field_validator("root", "model_flavour")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return check_text(value)

    @field_validator("model_flavour")
    @classmethod
    def _no_urls(cls, value: str) -> str:
        if "://" in value:
            raise ValueError(
                "URLs are not model ids; give a Hugging Face id like 'google/vit-base-patch16-224' "
                "or a local folder"
            )
        return value

    @field_validator("run_name")
    @classmethod
    def _safe_run_name(cls, value: str | None) -> str | None:
        if value is not None and (not _RUN_NAME.match(value) or ".." in value):
            raise ValueError(
                "run_name must be 1-128 characters of letters, digits, '.', '_' or '-', starting "
                "with a letter or digit (it becomes a folder name)"
            )
        return value

    @field_validator("model_suffix")
    @classmethod
    def _safe_suffix(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError("model_suffix may hold only letters, digits, '.', '_' and '-'")
        return value

    @field_validator("eval_topk")
    @classmethod
    def _topk(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("give at least one k (e.g. [1, 5])")
        return sorted(set(value))

    @field_validator("monitor_metric", mode="before")
    @classmethod
    def _monitor(cls, value: Any) -> Any:
        # Accepts the TensorBoard-style spellings users copy from their charts too.
        return metric_registry.canonical_name(value) if isinstance(value, str) else value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", value):
            raise ValueError("device must be auto, cpu, cuda or cuda:N")
        return value

    @field_validator("resume")
    @classmethod
    def _resume(cls, value: str) -> str:
        if not value.strip() or text_problem(value):
            raise ValueError("use auto, never, or a checkpoint folder path")
        return value

    @model_validator(mode="after")
    def _cross_field(self) -> TrainConfig:
        if self.id2label is not None and self.label2id is not None:
            inverse = {label: idx for idx, label in self.id2label.items()}
            if inverse != self.label2id:
                raise ValueError("id2label and label2id disagree; give one of them, or neither")
        if isinstance(self.class_weights, list) and any(w < 0 for w in self.class_weights):
            raise ValueError("class_weights must be non-negative")
        if (self.mixup_alpha > 0 or self.cutmix_alpha > 0) and self.loss_name == "focal":
            raise ValueError("mixup/cutmix need soft targets; use loss_name=cross_entropy")
        return self

    # ---- derived values -------------------------------------------------------------------------
    @property
    def resolved_monitor_mode(self) -> Literal["min", "max"]:
        if self.monitor_mode != "auto":
            return self.monitor_mode
        return metric_registry.direction(self.monitor_metric)

    @property
    def expected_classes(self) -> list[str] | None:
        """Class names the user pinned through class_labels / label2id / id2label, if any."""
        if self.class_labels is not None:
            return list(self.class_labels)
        if self.label2id is not None:
            return sorted(self.label2id, key=self.label2id.__getitem__)
        if self.id2label is not None:
            return [self.id2label[i] for i in sorted(self.id2label)]
        return None


# ---- loading from files and overrides ----------------------------------------------------------

FIELD_NAMES: frozenset[str] = frozenset(TrainConfig.model_fields)


def _suggest(key: str) -> str:
    close = difflib.get_close_matches(key, sorted(FIELD_NAMES), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def format_validation_error(error: ValidationError, source: str | None = None) -> ConfigError:
    """Turn pydantic's error list into one readable ConfigError, keeping the structured list."""
    lines: list[str] = []
    fields: list[dict[str, str]] = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "<config>"
        if item["type"] == "extra_forbidden":
            message = f"unknown key{_suggest(str(item['loc'][0]))}; remove it or fix its spelling"
        elif item["type"] == "missing":
            message = "is required"
        else:
            message = item["msg"].removeprefix("Value error, ")
            if "input" in item and not isinstance(item["input"], dict):
                message += f" (got {item['input']!r:.80})"
        lines.append(f"  - {loc}: {message}")
        fields.append({"field": loc, "message": message})
    where = f" in {source}" if source else ""
    return ConfigError(f"invalid training config{where}:\n" + "\n".join(lines), fields)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML config file into a dict (no validation yet)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check the path")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in {".yaml", ".yml"}:
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"config file {path} is not valid {path.suffix[1:].upper()}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold one object of key: value pairs")
    return data


def parse_override(item: str) -> tuple[str, Any]:
    """Parse one `key=value` override. Values are JSON when they parse as JSON, else strings."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r} must look like key=value (e.g. --set lr=3e-4)")
    if key not in FIELD_NAMES:
        raise ConfigError(f"override {item!r}: unknown key {key!r}{_suggest(key)}")
    raw = raw.strip()
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        # YAML covers unquoted lists like [1,5]; anything else stays a plain string.
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        if not isinstance(value, list | dict | bool | int | float):
            value = raw  # YAML dates, None from "~", etc. are not what the user meant
    return key, value


def build_config(
    data: Mapping[str, Any] | None = None,
    overrides: Iterable[str] = (),
    *,
    source: str | None = None,
) -> TrainConfig:
    merged: dict[str, Any] = dict(data or {})
    for item in overrides:
        key, value = parse_override(item)
        merged[key] = value
    try:
        return TrainConfig.model_validate(merged)
    except ValidationError as exc:
        raise format_validation_error(exc, source) from None


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> TrainConfig:
    """defaults -> file -> overrides -> validation."""
    data = read_config_file(path) if path is not None else {}
    return build_config(data, overrides, source=str(path) if path is not None else None)


def config_json_schema() -> dict[str, Any]:
    return TrainConfig.model_json_schema()
