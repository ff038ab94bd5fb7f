"""Every metric Visionyard reports, in one registry that every other list of metrics derives from.

- The evaluator (`visionyard.training.metrics`) reports exactly these, in this order
  (`scalar_names`), and so TensorBoard's `<split>/<name>` charts, `events.jsonl` and
  results.json carry these names; TensorBoard's `metrics/definitions` text is `describe()`.
- The config validator accepts a `monitor_metric` only if it is a registered name
  (`canonical_name`) and resolves `monitor_mode: auto` by its `direction`.
- The dashboard's config form offers `monitor_choices()`.

Adding a metric: one `MetricSpec` entry here and its computation in
`ClassificationMetrics.compute` (tests/training/test_metric_registry.py fails until both exist).
Imports no torch, so the dashboard validates configs without loading it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from visionyard.errors import ConfigError

Direction = Literal["min", "max"]
#: how a family of metrics spells its parameter: "acc@K" stands for acc@2, acc@3, ...
PARAMETER = "@K"
_K = "[1-9][0-9]*"  # a positive integer without leading zeros, as `f"acc@{k}"` writes it


@dataclass(frozen=True)
class MetricSpec:
    """One reported scalar, or a family of them (`name` ends with "@K")."""

    name: str
    #: which way is better: "min" (lower) or "max" (higher); monitor_mode "auto" uses it
    direction: Direction
    description: str
    #: the values the config form offers for monitor_metric; empty: not a monitor candidate
    monitor_choices: tuple[str, ...]

    @property
    def is_family(self) -> bool:
        return self.name.endswith(PARAMETER)

    @property
    def pattern(self) -> re.Pattern[str]:
        """The scalar names this entry covers (use `fullmatch`)."""
        if self.is_family:
            return re.compile(re.escape(self.name.removesuffix(PARAMETER)) + "@" + _K)
        return re.compile(re.escape(self.name))

    def names(self, ks: Iterable[int]) -> list[str]:
        """The scalar names reported for the top-k values `ks` (only a family uses them)."""
        if self.is_family:
            prefix = self.name.removesuffix(PARAMETER)
            return [f"{prefix}@{k}" for k in ks]
        return [self.name]


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "loss",
        "min",
        "sample-weighted mean of the batch losses",
        monitor_choices=("loss",),
    ),
    MetricSpec("acc@1", "max", "accuracy: correct / total", monitor_choices=("acc@1",)),
    MetricSpec(
        "balanced_acc",
        "max",
        "mean recall over the classes present in the targets",
        monitor_choices=("balanced_acc",),
    ),
    MetricSpec(
        "acc@K",
        "max",
        "top-K accuracy, for each K in eval_topk with 1 < K < the number of classes",
        monitor_choices=("acc@5",),
    ),
    MetricSpec(
        "precision_macro",
        "max",
        "unweighted mean precision over the classes seen in targets or predictions",
        monitor_choices=("precision_macro",),
    ),
    MetricSpec(
        "recall_macro",
        "max",
        "unweighted mean recall over the classes seen in targets or predictions",
        monitor_choices=("recall_macro",),
    ),
    MetricSpec(
        "f1_macro",
        "max",
        "unweighted mean F1 over the classes seen in targets or predictions",
        monitor_choices=("f1_macro",),
    ),
    MetricSpec(
        "auroc_macro",
        "max",
        "one-vs-rest ROC AUC averaged over the classes for which it is defined",
        monitor_choices=("auroc_macro",),
    ),
    MetricSpec("kappa", "max", "Cohen's kappa", monitor_choices=("kappa",)),
    MetricSpec(
        "ece",
        "min",
        "expected calibration error of the top label (L1, equal-width bins)",
        monitor_choices=("ece",),
    ),
)

#: spellings users copy from TensorBoard or other tools, and the registered name they mean
ALIASES: dict[str, str] = {"acc": "acc@1", "accuracy": "acc@1", "top1": "acc@1", "f1": "f1_macro"}
#: prefixes of the same origin ("val/acc@1", "eval_loss")
_SPLIT_PREFIXES = ("val/", "val_", "eval/", "eval_")


def metric_for(name: str) -> MetricSpec | None:
    """The registry entry reporting the scalar `name`, or None."""
    return next((m for m in METRICS if m.pattern.fullmatch(name)), None)


def is_known_metric_name(name: str) -> bool:
    """True if `name` is a scalar the evaluator can report for some class count."""
    return metric_for(name) is not None


def known_names_text() -> str:
    """The registered names for a message ("loss, acc@1, ..., acc@K, ...")."""
    return ", ".join(m.name for m in METRICS)


def direction(name: str) -> Direction:
    """Whether lower ("min") or higher ("max") is better for the scalar `name`."""
    metric = metric_for(name)
    if metric is None:
        raise ConfigError(f"unknown metric {name!r}; use one of {known_names_text()}.")
    return metric.direction


def canonical_name(value: str) -> str:
    """The registered scalar name a user means by `value` (a TensorBoard-style split prefix and
    the aliases are accepted); ValueError naming the choices when there is none."""
    name = value.strip()
    for prefix in _SPLIT_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
    name = ALIASES.get(name, name)
    if not is_known_metric_name(name):
        raise ValueError(f"unknown metric {value!r}; use one of {known_names_text()}")
    return name


def monitor_choices() -> list[str]:
    """What the config form offers for monitor_metric, in the registry's order."""
    return [choice for m in METRICS for choice in m.monitor_choices]


def scalar_names(topk: Sequence[int]) -> list[str]:
    """Every scalar the evaluator reports, in display order, given the reported top-k values
    (those with 1 < k < the class count; acc@1 is always reported)."""
    return [name for m in METRICS for name in m.names(topk)]


def describe(specs: Iterable[MetricSpec] = METRICS) -> str:
    """A Markdown table of the metrics: name, which way is better, what each means."""
    lines = ["| metric | better | meaning |", "| --- | --- | --- |"]
    for spec in specs:
        better = "lower" if spec.direction == "min" else "higher"
        lines.append(f"| {spec.name} | {better} | {spec.description} |")
    return "\n".join(lines)
