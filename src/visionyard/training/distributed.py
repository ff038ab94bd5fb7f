"""Process-group context so one code path serves a single process and a torchrun/DDP launch.

Launch: ``python -m torch.distributed.run --standalone --nproc_per_node=N -m visionyard.training
--config cfg.json``. torchrun's RANK / LOCAL_RANK / WORLD_SIZE select DDP; the backend is NCCL on
CUDA and gloo on CPU (``device=cpu``, e.g. for tests).

- ``batch_size`` is per process (the torchrun convention): N processes train with a global batch
  of ``N x batch_size`` (times ``grad_accum_steps``). To reproduce a one-process run with batch B,
  launch N processes with ``batch_size = B / N``.
- Every rank trains, evaluates its shard of val/test and computes the synced metrics; only rank 0
  logs, writes events.jsonl, checkpoints, exports and writes results.json.
- A stop request (SIGTERM/SIGINT, forwarded by torchrun to every worker) is combined across
  ranks after every optimizer step (``any_flag``), so all ranks stop at the same step and rank 0
  saves one checkpoint; each worker then exits with code 3. (torchrun itself exits 1 whenever it
  is signalled or a worker exits non-zero: it does not pass worker exit codes on. A supervisor
  reads the run's last ``state`` event to tell a clean stop from a crash.)
- A checkpoint records the world size; resuming it with another number of processes is refused,
  since the global batch, the step count and the mid-epoch position depend on it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import Tensor

from visionyard.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls) -> DistContext:
        """Read torchrun's RANK / LOCAL_RANK / WORLD_SIZE; absent means a single process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        return cls(
            rank=int(os.environ["RANK"]),
            local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            world_size=world,
        )

    def init_process_group(self, device: torch.device) -> None:
        if self.is_distributed and not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)

    def barrier(self) -> None:
        if self.is_distributed and dist.is_initialized():
            dist.barrier()

    def any_flag(self, flag: bool, device: torch.device) -> bool:
        """True if any rank raised `flag` (used so every rank stops at the same step)."""
        if not (self.is_distributed and dist.is_initialized()):
            return flag
        t = torch.tensor([1 if flag else 0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """Sum ``tensor`` over all ranks, in place, and return it (unchanged in one process).
        A collective: every rank must call it, in the same order."""
        if self.is_distributed and dist.is_initialized():
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Give every rank rank 0's buffers (e.g. BatchNorm running statistics).

        DDP broadcasts them at the start of each training forward, so after the last one every
        rank holds stats updated by its own batch. Evaluating with rank 0's (the ones a checkpoint
        saves) makes the synced val metrics describe the saved model.
        """
        if self.is_distributed and dist.is_initialized():
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def broadcast_object(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank, so one decision (e.g. which checkpoint to resume)
        holds everywhere. Pickled between our own ranks: small, trusted objects only."""
        if not (self.is_distributed and dist.is_initialized()):
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def shutdown(self) -> None:
        if self.is_distributed and dist.is_initialized():
            dist.destroy_process_group()


def resolve_device(spec: str, ctx: DistContext) -> torch.device:
    """auto -> this rank's GPU if CUDA is visible, else CPU."""
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"device={spec!r} but no CUDA GPU is visible; use device=cpu or auto")
    index = int(spec.split(":", 1)[1]) if spec.startswith("cuda:") else ctx.local_rank
    if index >= torch.cuda.device_count():
        raise ConfigError(
            f"device={spec!r} but only {torch.cuda.device_count()} GPU(s) are visible"
        )
    torch.cuda.set_device(index)
    return torch.device("cuda", index)
