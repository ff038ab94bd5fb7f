"""The metric registry is the one list: the evaluator, the config validator, the config form's
choices and TensorBoard's metric descriptions all agree with it."""

from __future__ import annotations

import re

import pytest
import torch

from visionyard.errors import ConfigError
from visionyard.training import metric_registry as registry
from visionyard.training.config import TrainConfig, build_config
from visionyard.training.metrics import ClassificationMetrics, scalar_metric_names

BASE = {"root": "r", "model_flavour": "org/model"}


def _computed(num_classes: int, topk: tuple[int, ...]) -> list[str]:
    metrics = ClassificationMetrics(num_classes, [str(i) for i in range(num_classes)], topk=topk)
    target = torch.arange(8) % num_classes
    metrics.update(torch.randn(8, num_classes), target, torch.tensor(0.5))
    return list(metrics.compute().scalars)


@pytest.mark.parametrize(
    ("num_classes", "topk"), [(2, (1, 5)), (3, (1, 2)), (10, (1, 3, 5)), (12, (5, 1, 11, 12))]
)
def test_the_evaluator_computes_exactly_the_registered_metrics(
    num_classes: int, topk: tuple[int, ...]
) -> None:
    computed = _computed(num_classes, topk)
    assert computed == scalar_metric_names(num_classes, topk)
    reported_k = sorted({k for k in topk if 1 < k < num_classes})
    assert computed == registry.scalar_names(reported_k)
    for name in computed:
        assert registry.is_known_metric_name(name), name


def test_every_registry_entry_is_computed_for_some_class_count() -> None:
    computed = _computed(10, (1, 5))
    for spec in registry.METRICS:
        assert any(spec.pattern.fullmatch(name) for name in computed), spec.name


def test_names_patterns_and_directions() -> None:
    names = [spec.name for spec in registry.METRICS]
    assert len(names) == len(set(names))
    for spec in registry.METRICS:
        assert spec.direction in ("min", "max") and spec.description
        for choice in spec.monitor_choices:
            assert spec.pattern.fullmatch(choice), (spec.name, choice)
    family = registry.metric_for("acc@7")
    assert family is not None and family.name == "acc@K"
    assert registry.metric_for("acc@1") is not None
    for bad in ("acc@0", "acc@05", "acc@", "acc@K", "acc@-1", "loss2", "LOSS", " loss"):
        assert registry.metric_for(bad) is None, bad


def test_the_validator_accepts_a_monitor_metric_exactly_when_it_is_registered() -> None:
    unknown = ["acc@0", "acc@05", "bleu", "f1_micro", "precision", "acc@1x"]
    candidates = [*registry.scalar_names([2, 5, 12]), *registry.monitor_choices(), *unknown]
    rejected = []
    for name in candidates:
        if registry.is_known_metric_name(name):
            cfg = build_config(BASE | {"monitor_metric": name})
            assert cfg.monitor_metric == name
            assert cfg.resolved_monitor_mode == registry.direction(name)
        else:
            with pytest.raises(ConfigError, match="monitor_metric"):
                build_config(BASE | {"monitor_metric": name})
            rejected.append(name)
    # The registry itself decides the branch: a registry that took everything would pass the
    # loop with nothing rejected, so the unknown names must have been refused.
    assert rejected == unknown


def test_aliases_and_split_prefixes_name_registered_metrics() -> None:
    for alias, name in registry.ALIASES.items():
        assert registry.is_known_metric_name(name)
        assert build_config(BASE | {"monitor_metric": alias}).monitor_metric == name
    for spelled in ("val/ece", "val_ece", "eval/ece", "eval_ece"):
        cfg = build_config(BASE | {"monitor_metric": spelled})
        assert cfg.monitor_metric == "ece" and cfg.resolved_monitor_mode == "min"


def test_the_monitor_mode_description_is_derived_from_the_registry() -> None:
    description = TrainConfig.model_fields["monitor_mode"].description or ""
    minimised = re.search(r"min for (\S+),", description)
    assert minimised is not None
    expected = [spec.name for spec in registry.METRICS if spec.direction == "min"]
    assert minimised.group(1).split("/") == expected


def test_describe_lists_every_metric_with_direction_and_meaning() -> None:
    table = registry.describe()
    assert "| acc@K | higher | top-K accuracy" in table
    assert "| ece | lower |" in table
    assert len(table.splitlines()) == 2 + len(registry.METRICS)


def test_compute_names_a_metric_missing_from_either_side() -> None:
    """The registry and the evaluator out of step (a metric added on one side only) is an error
    naming the metric and both places, not a KeyError or a metric silently left out."""
    metrics = ClassificationMetrics(3, ["a", "b", "c"], topk=(1,))
    metrics.update(torch.randn(6, 3), torch.arange(6) % 3, torch.tensor(0.5))
    metrics.names = [name for name in metrics.names if name != "kappa"]
    with pytest.raises(RuntimeError, match=r"not registered: \['kappa'\].*METRICS"):
        metrics.compute()
    metrics.names = [*metrics.names, "kappa", "bleu"]
    with pytest.raises(RuntimeError, match=r"not computed: \['bleu'\].*compute"):
        metrics.compute()
