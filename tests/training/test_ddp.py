"""Multi-process DDP training through torchrun, proven on CPU with gloo and 2 processes.

The end-to-end tests launch exactly what an agent launches for an N-GPU run,
``python -m torch.distributed.run --standalone --nproc_per_node=N -m visionyard.training
--config cfg.json [--set k=v]``, with ``device=cpu`` and a clean environment, and read the run
folder the workers leave behind. The tiny ViT has LayerNorm and no BatchNorm (and no dropout), so
2 processes x batch b see the same images per step as 1 process x batch 2b and average the same
gradients: the two runs differ only by float summation order.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file
from torch.nn.parallel import DistributedDataParallel

import visionyard
from visionyard.errors import CheckpointError
from visionyard.training.checkpoint import validate_checkpoint
from visionyard.training.config import TrainConfig
from visionyard.training.metrics import ClassificationMetrics
from visionyard.training.runner import train
from visionyard.training.samplers import EpochSampler, EvalShardSampler

CLASSES = ("0", "1", "2", "3")
TRAIN_PER_CLASS = 40  # 160 images: a multiple of the global batch, so no rank is padded
VAL_COUNTS = (7, 7, 7, 6)  # 27: odd, so the 2 eval shards are uneven (14 + 13)
TEST_COUNTS = (5, 5, 5, 6)  # 21
VAL_SIZE, TEST_SIZE = sum(VAL_COUNTS), sum(TEST_COUNTS)
PER_RANK_BATCH = 2
EPOCHS = 2
TOTAL_STEPS = EPOCHS * TRAIN_PER_CLASS * len(CLASSES) // (2 * PER_RANK_BATCH)  # 80
LAUNCH_TIMEOUT_S = 300


# ---- unit level: the sharding and the metric sync DDP relies on -------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 27])
def test_eval_shards_hold_every_image_exactly_once(n: int, world: int) -> None:
    shards = [list(EvalShardSampler(n, rank=r, world_size=world)) for r in range(world)]
    assert sorted(i for shard in shards for i in shard) == list(range(n))
    lengths = [len(EvalShardSampler(n, rank=r, world_size=world)) for r in range(world)]
    assert lengths == [len(s) for s in shards]
    assert max(lengths) - min(lengths) <= 1


def test_n_ranks_at_batch_b_see_the_images_of_one_process_at_batch_n_times_b() -> None:
    """What makes a 2-process run comparable with a 1-process run at twice the batch."""
    n, world, b = 24, 2, 3
    one = [i for _, i in EpochSampler(n, shuffle=True, seed=7)]
    ranks = [
        [i for _, i in EpochSampler(n, shuffle=True, seed=7, rank=r, world_size=world)]
        for r in range(world)
    ]
    for step in range(n // (world * b)):
        together = sorted(i for shard in ranks for i in shard[step * b : (step + 1) * b])
        assert together == sorted(one[step * world * b : (step + 1) * world * b])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _empty_rank_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        metrics = ClassificationMetrics(3, ["a", "b", "c"], topk=(1, 2))
        if rank == 0:  # rank 1's eval shard is empty (a split smaller than the world)
            logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
            metrics.update(logits, torch.tensor([0, 1, 2, 0, 1]), torch.tensor(0.5))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "compute before update" on the empty rank
            result = metrics.compute()
        with open(f"{out}.{rank}", "w") as fh:
            json.dump(result.to_json(), fh)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned processes importing torch: ~10-20 s on a small machine
def test_metrics_sync_when_one_rank_saw_no_image(tmp_path: Path) -> None:
    out = tmp_path / "result"
    mp.spawn(_empty_rank_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    synced = [json.loads(Path(f"{out}.{rank}").read_text()) for rank in range(2)]
    assert synced[0] == synced[1]
    single = ClassificationMetrics(3, ["a", "b", "c"], topk=(1, 2))
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    single.update(logits, torch.tensor([0, 1, 2, 0, 1]), torch.tensor(0.5))
    reference = single.compute().to_json()
    assert synced[0]["num_samples"] == 5
    assert synced[0]["confusion"] == reference["confusion"]
    for name, value in reference["scalars"].items():
        assert synced[0]["scalars"][name] == pytest.approx(value, abs=1e-6), name


def _train_and_count_live_wrappers(rank: int, world: int, port: int, cfg: dict, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world),
    )
    torch.set_num_threads(1)
    train(TrainConfig(**cfg))
    # No gc.collect() here: what is alive now is alive until interpreter shutdown.
    alive = sum(isinstance(o, DistributedDataParallel) for o in gc.get_objects())
    Path(f"{out}.{rank}").write_text(
        json.dumps({"ddp_alive": alive, "group": dist.is_initialized()})
    )


@pytest.mark.slow  # two spawned processes train one tiny epoch: ~20-30 s on a small machine
def test_train_releases_the_process_group_before_it_returns(
    base_config: dict, tmp_path: Path
) -> None:
    """A DDP wrapper still alive when train() returns keeps gloo's process group until interpreter
    shutdown, where tearing it down can abort a worker (SIGABRT) after a successful run: torchrun
    then reports the run failed. CI saw exactly that on a resumed 2-process run."""
    out = tmp_path / "alive"
    cfg = base_config | {"device": "cpu", "batch_size": 4}
    mp.spawn(
        _train_and_count_live_wrappers,
        args=(2, _free_port(), cfg, str(out)),
        nprocs=2,
        join=True,
    )
    for rank in range(2):
        assert json.loads(Path(f"{out}.{rank}").read_text()) == {"ddp_alive": 0, "group": False}


# ---- end to end through torchrun ---------------------------------------------------------------


def _copy_slice(src: Path, dst: Path, counts: tuple[int, ...]) -> None:
    for cls, count in zip(CLASSES, counts, strict=True):
        (dst / cls).mkdir(parents=True)
        for f in sorted((src / cls).iterdir())[:count]:
            shutil.copy(f, dst / cls / f.name)


@pytest.fixture(scope="module")
def ddp_root(digits_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ddp") / "digits4"
    _copy_slice(digits_root / "train", root / "train", (TRAIN_PER_CLASS,) * len(CLASSES))
    _copy_slice(digits_root / "val", root / "val", VAL_COUNTS)
    _copy_slice(digits_root / "test", root / "test", TEST_COUNTS)
    return root


def _clean_env() -> dict[str, str]:
    """Only what the workers need: no inherited torchrun/RANK/MASTER_* variables, no Hub."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        # 2 workers on a small machine: one intra-op thread each, or they fight for cores.
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        # The workers run the visionyard this test imported (a checkout's src/ may shadow an
        # installed copy of another checkout).
        "PYTHONPATH": str(Path(visionyard.__file__).resolve().parents[1]),
    }
    if "TMPDIR" in os.environ:
        env["TMPDIR"] = os.environ["TMPDIR"]
    return env


def _command(config: Path, nproc: int, overrides: list[str]) -> list[str]:
    train_args = ["-m", "visionyard.training", "--config", str(config)]
    for item in overrides:
        train_args += ["--set", item]
    if nproc == 1:
        return [sys.executable, *train_args]
    # The launch form agents use, unchanged.
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        *train_args,
    ]


@dataclass
class Launcher:
    config: Path
    runs: Path
    workdir: Path

    def start(self, nproc: int, *overrides: str, log: str) -> subprocess.Popen:
        with (self.workdir / log).open("w") as out:  # the child keeps its own copy of the fd
            return subprocess.Popen(
                _command(self.config, nproc, list(overrides)),
                cwd=self.workdir,
                env=_clean_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, like an agent's trainer
            )

    def run(self, nproc: int, *overrides: str, log: str) -> int:
        proc = self.start(nproc, *overrides, log=log)
        try:
            return proc.wait(timeout=LAUNCH_TIMEOUT_S)
        finally:
            _reap(proc)

    def output(self, log: str) -> str:
        return (self.workdir / log).read_text(errors="replace")


def _reap(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class StraightRuns:
    launcher: Launcher
    one: Path  # 1 process, batch 2b
    two: Path  # torchrun, 2 processes, batch b each


@pytest.fixture(scope="module")
def straight(
    ddp_root: Path, tiny_model: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> StraightRuns:
    workdir = tmp_path_factory.mktemp("ddp-runs")
    config = workdir / "cfg.json"
    # The keys of conftest's base_config, on the 4-class slice and the tiny ViT.
    config.write_text(
        json.dumps(
            {
                "root": str(ddp_root),
                "model_flavour": str(tiny_model("vit")),
                "epochs": EPOCHS,
                "batch_size": PER_RANK_BATCH,
                "lr": 1e-3,
                "num_workers": 0,
                "eval_topk": [1, 2],
                "train_preset": "light",
                "output_dir": str(workdir / "runs"),
                "run_name": "t",
                "progress_bar": False,
                "seed": 0,
                "device": "cpu",
                "log_every_steps": 1,
            }
        )
    )
    launcher = Launcher(config=config, runs=workdir / "runs", workdir=workdir)
    one = launcher.run(1, f"batch_size={2 * PER_RANK_BATCH}", "run_name=one", log="one.log")
    assert one == 0, launcher.output("one.log")[-4000:]
    two = launcher.run(2, "run_name=two", log="two.log")
    assert two == 0, launcher.output("two.log")[-4000:]
    # One summary for the run, printed by rank 0, not one per worker.
    assert launcher.output("two.log").count("run folder:") == 1
    return StraightRuns(launcher, launcher.runs / "one", launcher.runs / "two")


def _results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-12)


@pytest.mark.slow
def test_two_processes_match_one_process_at_twice_the_batch(straight: StraightRuns) -> None:
    """Tolerance: both runs put the same 4 images through the same weights at every step (see
    the sampler test above) and DDP averages two equal-size shard gradients into the global-batch
    mean, so only float summation order differs (~1e-7 relative per step, measured ~1e-7 after
    80 AdamW steps). 1e-3 relative on losses is a wide margin over that; an argmax could flip on
    a near-tie, so accuracy may differ by one image."""
    one, two = _results(straight.one), _results(straight.two)
    for split, size in (("val", VAL_SIZE), ("test", TEST_SIZE)):
        a, b = one[split], two[split]
        # Every image counted once: no padding duplicates in the 2-process evaluation.
        assert a["num_samples"] == b["num_samples"] == size, split
        assert sum(row["support"] for row in b["per_class"]) == size
        assert sum(map(sum, b["confusion"])) == size
        assert [r["support"] for r in b["per_class"]] == [r["support"] for r in a["per_class"]]
        assert _rel(a["scalars"]["loss"], b["scalars"]["loss"]) < 1e-3, split
        assert abs(a["scalars"]["acc@1"] - b["scalars"]["acc@1"]) <= 1 / size + 1e-9, split
    assert one["steps"] == two["steps"] == TOTAL_STEPS
    # Train means cover both ranks' shards (all-reduced), not rank 0's half.
    for x, y in zip(one["history"], two["history"], strict=True):
        assert _rel(x["train"]["loss"], y["train"]["loss"]) < 1e-3
        assert abs(x["train"]["acc@1"] - y["train"]["acc@1"]) <= 1 / 160 + 1e-9
    env = json.loads((straight.two / "env.json").read_text())
    assert env["world_size"] == 2


@pytest.mark.slow
def test_rank_zero_is_the_only_writer(straight: StraightRuns) -> None:
    run_dir = straight.two
    ckpts = run_dir / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["best", "last"]  # no .tmp-/.old- debris
    for name in ("best", "last"):
        assert validate_checkpoint(ckpts / name) is None
        assert len(list((ckpts / name).glob("MANIFEST*"))) == 1
    state = json.loads((ckpts / "last" / "state.json").read_text())
    assert (state["step"], state["world_size"]) == (TOTAL_STEPS, 2)

    events = _events(run_dir)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    metrics = [(e["split"], e["epoch"]) for e in events if e["type"] == "metrics"]
    assert len(metrics) == len(set(metrics)) == 2 * EPOCHS + 1  # train+val per epoch, test once
    steps = [e["step"] for e in events if e["type"] == "train_step"]
    assert steps == list(range(1, TOTAL_STEPS + 1))
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states == ["starting", "running", "succeeded"]
    checkpoints = [(e["name"], e["step"]) for e in events if e["type"] == "checkpoint"]
    assert len(checkpoints) == len(set(checkpoints))

    # The evaluation report too is rank 0's alone, written once.
    artifacts = [e["path"] for e in events if e["type"] == "artifact"]
    assert artifacts == ["model", "reports/best-val.json"]
    assert sorted(p.name for p in (run_dir / "reports").iterdir()) == ["best-val.json"]
    model_files = sorted(p.name for p in (run_dir / "model").iterdir())
    assert model_files.count("model.safetensors") == 1 and "config.json" in model_files
    assert len(list((run_dir / "tb").glob("events.out.tfevents.*"))) == 1


def _wait_for_step(run_dir: Path, proc: subprocess.Popen, step: int, launcher: Launcher) -> None:
    events = run_dir / "events.jsonl"
    deadline = time.monotonic() + LAUNCH_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, (
            "finished before it could be stopped:\n" + launcher.output("stop.log")[-4000:]
        )
        if events.is_file():
            for line in events.read_text().splitlines():
                event = json.loads(line)
                if event["type"] == "train_step" and event["step"] >= step:
                    return
        time.sleep(0.02)
    pytest.fail(f"training never reached step {step}")


@pytest.mark.slow
def test_sigterm_stops_every_rank_and_the_same_command_resumes(straight: StraightRuns) -> None:
    """SIGTERM to torchrun's process group (what an agent's drain or cancel sends): torchrun
    forwards it once to each worker, the ranks agree on the stop after the next optimizer step,
    rank 0 saves, every worker exits with code 3. Had the ranks stopped at different steps, rank
    0's checkpoint barrier would meet the other rank's gradient all-reduce and the run would
    crash instead; the resumed run being identical to the uninterrupted one shows the saved
    position is exactly where both ranks stopped."""
    launcher = straight.launcher
    run_dir = launcher.runs / "split"
    proc = launcher.start(2, "run_name=split", log="stop.log")
    try:
        _wait_for_step(run_dir, proc, 3, launcher)
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=LAUNCH_TIMEOUT_S)
    finally:
        _reap(proc)
    output = launcher.output("stop.log")
    # Each worker printed the line `visionyard train` prints right before exiting with code 3.
    assert output.count("stopped (received SIGTERM); resume with the same config") == 2, output
    # torchrun itself exits 1 whenever it is signalled: it does not pass worker codes on.
    assert code != 0

    events = _events(run_dir)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    stops = [e for e in events if e["type"] == "state" and e["state"] == "stopped"]
    assert len(stops) == 1 and events[-1] == stops[0]
    stopped_at = stops[0]["step"]
    assert 3 <= stopped_at < TOTAL_STEPS
    last = run_dir / "checkpoints" / "last"
    assert validate_checkpoint(last) is None
    state = json.loads((last / "state.json").read_text())
    assert state["step"] == stopped_at

    resumed = launcher.run(2, "run_name=split", log="resume.log")
    assert resumed == 0, launcher.output("resume.log")[-4000:]
    events = _events(run_dir)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    resumes = [e for e in events if e["type"] == "state" and e["state"] == "resumed"]
    assert [e["step"] for e in resumes] == [stopped_at]
    assert _results(run_dir)["steps"] == TOTAL_STEPS

    # Stop + resume under DDP == the uninterrupted 2-process run (R10), to the bit.
    final = load_file(last / "model.safetensors")
    reference = load_file(straight.two / "checkpoints" / "last" / "model.safetensors")
    assert final.keys() == reference.keys()
    for key in final:
        assert torch.equal(final[key], reference[key]), key
    # Every epoch's val and train means too: each rank's running train sums of the stopped
    # epoch were saved, and each rank adds to its own.
    assert _results(run_dir)["history"] == _results(straight.two)["history"]
    assert all(h["train"] for h in _results(run_dir)["history"])


@pytest.mark.slow
def test_resuming_with_another_number_of_processes_is_refused(
    straight: StraightRuns, tmp_path: Path
) -> None:
    """The global batch, the step count and the mid-epoch position depend on the world size."""
    # Imported here: mp.spawn's children import this module, and need none of this.
    from visionyard.training.config import build_config
    from visionyard.training.runner import train

    runs = tmp_path / "runs"
    shutil.copytree(straight.two, runs / "two")  # a copy: this start appends to events.jsonl
    stored = json.loads((runs / "two" / "config.json").read_text())
    stored["output_dir"] = str(runs)
    (runs / "two" / "config.json").write_text(json.dumps(stored))
    cfg = json.loads(straight.launcher.config.read_text())
    cfg |= {"output_dir": str(runs), "run_name": "two", "epochs": EPOCHS + 1}
    with pytest.raises(CheckpointError, match="--nproc_per_node=2"):
        train(build_config(cfg))  # one process
