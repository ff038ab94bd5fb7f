"""ClassificationMetrics against scikit-learn, plus the metric-name and improvement helpers."""

from __future__ import annotations

import json
import math
import os
import socket
import warnings

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
    top_k_accuracy_score,
)
from torchmetrics.functional.classification import (
    multiclass_calibration_error,
    multiclass_f1_score,
    multiclass_precision,
)

from visionyard.errors import ConfigError
from visionyard.training.metric_registry import direction, is_known_metric_name
from visionyard.training.metrics import (
    ClassificationMetrics,
    EvalResult,
    is_improvement,
    scalar_metric_names,
    skipped_topk,
)

TOL = 1e-5
BATCHES = (7, 32, 1, 19, 41)


def _names(c: int) -> list[str]:
    return [f"class_{i}" for i in range(c)]


def _feed(
    metrics: ClassificationMetrics,
    num_classes: int,
    *,
    seed: int = 0,
    batches: tuple[int, ...] = BATCHES,
    dtype: torch.dtype = torch.float32,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Feed random batches; return (targets, float64 softmax probs, expected mean loss)."""
    g = torch.Generator().manual_seed(seed)
    targets, logits_all, loss_sum, n = [], [], 0.0, 0
    for b in batches:
        target = torch.randint(0, num_classes, (b,), generator=g)
        # Some signal so the metrics are not all near chance, plus noise.
        logits = torch.randn(b, num_classes, generator=g) * 1.5
        logits[torch.arange(b), target] += 1.0
        logits = logits.to(dtype)
        loss = torch.rand((), generator=g) * 3
        metrics.update(logits, target, loss)
        targets.append(target)
        logits_all.append(logits.float())
        loss_sum += float(loss) * b
        n += b
    y = torch.cat(targets).numpy()
    probs = torch.cat(logits_all).double().softmax(dim=1).numpy()
    return y, probs, loss_sum / n


def _ece_reference(y: np.ndarray, probs: np.ndarray, bins: int) -> float:
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(np.float64)
    idx = np.minimum(np.floor(conf * bins).astype(int), bins)  # [lo, hi) bins, 1.0 alone
    ece = 0.0
    for b in range(bins + 1):
        sel = idx == b
        if sel.any():
            ece += abs(correct[sel].mean() - conf[sel].mean()) * sel.mean()
    return ece


@pytest.mark.parametrize("num_classes", [4, 10])
def test_matches_sklearn_on_random_data(num_classes: int) -> None:
    m = ClassificationMetrics(num_classes, _names(num_classes), topk=(1, 3, 5))
    y, probs, mean_loss = _feed(m, num_classes, seed=num_classes)
    r = m.compute()
    pred = probs.argmax(axis=1)
    labels = list(range(num_classes))

    assert list(r.scalars) == scalar_metric_names(num_classes, (1, 3, 5))
    assert r.num_samples == sum(BATCHES)
    s = r.scalars
    assert s["loss"] == pytest.approx(mean_loss, abs=TOL)
    assert s["acc@1"] == pytest.approx(accuracy_score(y, pred), abs=TOL)
    assert s["balanced_acc"] == pytest.approx(balanced_accuracy_score(y, pred), abs=TOL)
    assert s["acc@3"] == pytest.approx(top_k_accuracy_score(y, probs, k=3, labels=labels), abs=TOL)
    if num_classes > 5:
        assert s["acc@5"] == pytest.approx(
            top_k_accuracy_score(y, probs, k=5, labels=labels), abs=TOL
        )
    else:
        assert "acc@5" not in s
    assert s["precision_macro"] == pytest.approx(
        precision_score(y, pred, average="macro", zero_division=0), abs=TOL
    )
    assert s["recall_macro"] == pytest.approx(
        recall_score(y, pred, average="macro", zero_division=0), abs=TOL
    )
    assert s["f1_macro"] == pytest.approx(
        f1_score(y, pred, average="macro", zero_division=0), abs=TOL
    )
    assert s["auroc_macro"] == pytest.approx(
        roc_auc_score(y, probs, multi_class="ovr", average="macro"), abs=TOL
    )
    assert s["kappa"] == pytest.approx(cohen_kappa_score(y, pred), abs=TOL)
    assert s["ece"] == pytest.approx(_ece_reference(y, probs, 15), abs=TOL)
    assert s["ece"] == pytest.approx(
        float(
            multiclass_calibration_error(
                torch.from_numpy(probs), torch.from_numpy(y), num_classes=num_classes
            )
        ),
        abs=TOL,
    )

    assert r.confusion == confusion_matrix(y, pred, labels=labels).tolist()
    p, rc, f, sup = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    for i, row in enumerate(r.per_class):
        assert row["class"] == f"class_{i}"
        assert row["precision"] == pytest.approx(p[i], abs=TOL)
        assert row["recall"] == pytest.approx(rc[i], abs=TOL)
        assert row["f1"] == pytest.approx(f[i], abs=TOL)
        assert row["support"] == int(sup[i]) and isinstance(row["support"], int)


def test_two_classes_auroc_is_the_binary_auroc() -> None:
    m = ClassificationMetrics(2, ["neg", "pos"], topk=(1, 5))
    y, probs, _ = _feed(m, 2, seed=3)
    r = m.compute()
    pred = probs.argmax(axis=1)
    assert list(r.scalars) == scalar_metric_names(2, (1, 5))
    assert "acc@5" not in r.scalars
    assert r.scalars["auroc_macro"] == pytest.approx(roc_auc_score(y, probs[:, 1]), abs=TOL)
    assert r.scalars["acc@1"] == pytest.approx(accuracy_score(y, pred), abs=TOL)
    assert r.scalars["kappa"] == pytest.approx(cohen_kappa_score(y, pred), abs=TOL)
    assert r.scalars["f1_macro"] == pytest.approx(f1_score(y, pred, average="macro"), abs=TOL)


def test_skipped_topk_is_reported_not_a_crash() -> None:
    assert skipped_topk(3, (1, 5)) == [5]
    assert skipped_topk(3, (1, 2, 3, 5)) == [3, 5]
    assert skipped_topk(10, (1, 5)) == []
    assert scalar_metric_names(3, (1, 5)) == [
        "loss", "acc@1", "balanced_acc", "precision_macro", "recall_macro", "f1_macro",
        "auroc_macro", "kappa", "ece",
    ]  # fmt: skip
    assert scalar_metric_names(10, (5, 1, 3, 5))[3:5] == ["acc@3", "acc@5"]
    m = ClassificationMetrics(3, _names(3), topk=(1, 5))
    assert m.skipped_topk == [5]
    _feed(m, 3)
    assert set(m.compute().scalars) == set(scalar_metric_names(3, (1, 5)))
    with pytest.raises(ConfigError, match="eval_topk"):
        skipped_topk(3, (0, 1))


def test_class_absent_from_targets_but_predicted() -> None:
    """Class 3 never occurs in the targets but the model sometimes predicts it."""
    c = 4
    g = torch.Generator().manual_seed(7)
    m = ClassificationMetrics(c, _names(c), topk=(1, 2))
    ys, ps = [], []
    for b in (13, 30, 5):
        target = torch.randint(0, 3, (b,), generator=g)
        logits = torch.randn(b, c, generator=g)
        m.update(logits, target)
        ys.append(target)
        ps.append(logits.double().softmax(1))
    y, probs = torch.cat(ys).numpy(), torch.cat(ps).numpy()
    pred = probs.argmax(1)
    assert (pred == 3).any(), "fixture should predict the absent class at least once"
    r = m.compute()
    s = r.scalars
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns that y_pred has classes not in y_true
        expected_bal = balanced_accuracy_score(y, pred)
    # balanced_acc: mean recall over classes present in the targets only.
    assert s["balanced_acc"] == pytest.approx(expected_bal, abs=TOL)
    # macro P/R/F1 include class 3 (it was predicted), with its undefined ratios as 0.
    for name, fn in (("precision", precision_score), ("recall", recall_score), ("f1", f1_score)):
        assert s[f"{name}_macro"] == pytest.approx(
            fn(y, pred, average="macro", zero_division=0), abs=TOL
        )
    assert s["recall_macro"] < s["balanced_acc"]
    # AUROC: defined only for classes with positives; class 3 is left out, not scored 0.
    expected_auroc = np.mean([roc_auc_score(y == k, probs[:, k]) for k in range(3)])
    assert s["auroc_macro"] == pytest.approx(expected_auroc, abs=TOL)
    assert r.per_class[3]["support"] == 0
    assert r.per_class[3]["recall"] == 0.0 and r.per_class[3]["precision"] == 0.0
    assert all(math.isfinite(v) for k, v in s.items() if k != "loss")
    assert math.isnan(s["loss"])  # no loss was passed


def test_class_absent_from_targets_and_predictions_is_ignored_in_macro() -> None:
    c = 4
    g = torch.Generator().manual_seed(11)
    target = torch.randint(0, 3, (60,), generator=g)
    logits = torch.randn(60, c, generator=g)
    logits[:, 3] = -30.0  # never predicted
    m = ClassificationMetrics(c, _names(c), topk=(1,))
    m.update(logits[:25], target[:25])
    m.update(logits[25:], target[25:])
    s = m.compute().scalars
    y, pred = target.numpy(), logits.argmax(1).numpy()
    # Same convention as scikit-learn's default labels and torchmetrics' macro average.
    assert s["precision_macro"] == pytest.approx(precision_score(y, pred, average="macro"), abs=TOL)
    assert s["precision_macro"] == pytest.approx(
        float(multiclass_precision(logits, target, c, average="macro")), abs=TOL
    )
    assert s["f1_macro"] == pytest.approx(
        float(multiclass_f1_score(logits, target, c, average="macro")), abs=TOL
    )
    assert s["recall_macro"] == pytest.approx(s["balanced_acc"], abs=TOL)


def test_single_class_eval_set_gives_nan_auroc_without_warnings() -> None:
    m = ClassificationMetrics(3, _names(3), topk=(1,))
    m.update(torch.randn(10, 3), torch.zeros(10, dtype=torch.long))
    s = m.compute().scalars  # filterwarnings=error: torchmetrics' warning must be handled
    assert math.isnan(s["auroc_macro"])
    assert math.isfinite(s["acc@1"]) and math.isfinite(s["ece"])


def test_empty_compute_is_nan_not_a_crash() -> None:
    m = ClassificationMetrics(3, _names(3), topk=(1, 2))
    r = m.compute()
    assert r.num_samples == 0
    assert all(math.isnan(v) for v in r.scalars.values())
    assert r.confusion == [[0] * 3] * 3
    doc = json.loads(json.dumps(r.to_json(), allow_nan=False))
    assert doc["scalars"]["acc@1"] is None


def test_reset_and_recompute() -> None:
    m = ClassificationMetrics(5, _names(5))
    _feed(m, 5, seed=1)
    first = m.compute()
    assert first.scalars == m.compute().scalars  # compute is repeatable
    m.reset()
    y, probs, _ = _feed(m, 5, seed=2, batches=(9, 4))
    r = m.compute()
    assert r.num_samples == 13
    assert r.scalars["acc@1"] == pytest.approx(accuracy_score(y, probs.argmax(1)), abs=TOL)


def test_low_precision_logits_are_computed_in_float32() -> None:
    bf = ClassificationMetrics(6, _names(6), topk=(1, 3))
    y, probs, _ = _feed(bf, 6, seed=5, dtype=torch.bfloat16)
    r = bf.compute()
    # The reference is float64 softmax of the very bf16 values fed in: our float32 path matches it,
    # which a softmax taken in bf16 would not.
    assert r.scalars["auroc_macro"] == pytest.approx(
        roc_auc_score(y, probs, multi_class="ovr"), abs=TOL
    )
    assert r.scalars["ece"] == pytest.approx(_ece_reference(y, probs, 15), abs=1e-4)
    assert r.confusion == confusion_matrix(y, probs.argmax(1), labels=range(6)).tolist()


def test_update_does_not_keep_autograd_graphs_and_accepts_half() -> None:
    m = ClassificationMetrics(3, _names(3))
    logits = torch.randn(8, 3, requires_grad=True)
    loss = (logits**2).mean()
    m.update(logits * 2, torch.randint(0, 3, (8,)), loss)
    m.update(torch.randn(4, 3).half(), torch.randint(0, 3, (4,)), torch.tensor(0.5).half())
    assert all(not t.requires_grad for t in m._auroc.preds)
    assert m.compute().num_samples == 12


def test_update_rejects_bad_shapes_and_labels() -> None:
    m = ClassificationMetrics(3, _names(3))
    with pytest.raises(ValueError, match=r"shape \(batch, 3\)"):
        m.update(torch.randn(4, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="target must have shape"):
        m.update(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        m.update(torch.randn(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ConfigError, match="at least 2 classes"):
        ClassificationMetrics(1, ["only"])
    with pytest.raises(ConfigError, match="class_names has 2 entries"):
        ClassificationMetrics(3, ["a", "b"])


def test_update_works_in_deterministic_mode() -> None:
    m = ClassificationMetrics(4, _names(4), topk=(1, 2))
    old = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        y, probs, _ = _feed(m, 4, seed=9, batches=(16, 8))
    finally:
        torch.use_deterministic_algorithms(old)
    assert m.compute().scalars["acc@1"] == pytest.approx(accuracy_score(y, probs.argmax(1)))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_update_never_syncs_with_host_on_cuda() -> None:
    m = ClassificationMetrics(10, _names(10), topk=(1, 5), device="cuda")
    logits = torch.randn(64, 10, device="cuda", dtype=torch.bfloat16)
    target = torch.randint(0, 10, (64,), device="cuda")
    loss = torch.rand((), device="cuda")
    torch.cuda.synchronize()
    try:
        with warnings.catch_warnings():  # "a prototype feature" UserWarning, every time
            warnings.simplefilter("ignore", UserWarning)
            torch.cuda.set_sync_debug_mode("error")
        for _ in range(3):
            m.update(logits, target, loss)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert m.compute().num_samples == 192


def test_eval_result_to_json_is_strict_json() -> None:
    r = EvalResult(
        scalars={"loss": math.nan, "acc@1": 0.5, "ece": math.inf},
        per_class=[{"class": "a", "precision": 0.5, "recall": 1.0, "f1": 0.6, "support": 3}],
        confusion=[[3]],
        num_samples=3,
    )
    doc = json.loads(json.dumps(r.to_json(), allow_nan=False))
    assert doc["scalars"] == {"loss": None, "acc@1": 0.5, "ece": None}
    assert doc["per_class"][0]["support"] == 3
    assert doc["confusion"] == [[3]] and doc["num_samples"] == 3


def test_metric_names_and_modes() -> None:
    for name in ("loss", "acc@1", "acc@5", "acc@12", "balanced_acc", "f1_macro", "auroc_macro",
                 "kappa", "ece", "precision_macro", "recall_macro"):  # fmt: skip
        assert is_known_metric_name(name), name
    for name in ("acc@0", "acc@x", "acc", "val_loss", "f1", "Loss", "acc@05"):
        assert not is_known_metric_name(name), name
    assert direction("loss") == "min" and direction("ece") == "min"
    assert direction("acc@1") == "max" and direction("kappa") == "max"
    with pytest.raises(ConfigError, match="val_acc"):
        direction("val_acc")


def test_is_improvement() -> None:
    assert is_improvement(0.5, None, "max")
    assert is_improvement(5.0, None, "min")
    assert not is_improvement(math.nan, None, "max")
    assert not is_improvement(math.nan, 0.3, "min")
    assert not is_improvement(math.inf, 0.3, "max")  # inf is a broken value, not a record
    assert not is_improvement(-math.inf, 0.3, "min")
    assert is_improvement(0.31, 0.3, "max") and not is_improvement(0.29, 0.3, "max")
    assert is_improvement(0.29, 0.3, "min") and not is_improvement(0.3, 0.3, "min")
    assert not is_improvement(0.305, 0.3, "max", min_delta=0.01)
    assert is_improvement(0.32, 0.3, "max", min_delta=0.01)
    assert not is_improvement(0.295, 0.3, "min", min_delta=0.01)
    assert is_improvement(0.1, math.nan, "min")  # a NaN best is no best
    with pytest.raises(ConfigError, match="monitor_mode"):
        is_improvement(1.0, 0.0, "maximum")
    with pytest.raises(ConfigError, match="min_delta"):
        is_improvement(1.0, 0.0, "max", min_delta=-0.1)


# -- distributed: two gloo ranks must agree with one process on the union of their data ---------


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        m = ClassificationMetrics(5, _names(5), topk=(1, 3))
        # Uneven shards on purpose: torchmetrics must gather variable-length AUROC states.
        _feed(m, 5, seed=100 + rank, batches=(9, 4) if rank == 0 else (6,))
        r = m.compute()
        if rank == 0:
            with open(out, "w") as fh:
                json.dump(r.to_json(), fh)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_compute_syncs_across_ranks(tmp_path) -> None:
    out = tmp_path / "rank0.json"
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    synced = json.loads(out.read_text())
    single = ClassificationMetrics(5, _names(5), topk=(1, 3))
    _feed(single, 5, seed=100, batches=(9, 4))
    _feed(single, 5, seed=101, batches=(6,))
    ref = single.compute()
    assert synced["num_samples"] == 19
    assert synced["confusion"] == ref.confusion
    for name, value in ref.scalars.items():
        assert synced["scalars"][name] == pytest.approx(value, abs=TOL), name
