"""Process-group context so one code path serves a single process and a torchrun/DDP launch.

Only rank 0 logs, checkpoints and exports; every rank trains.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from visionyard.errors import ConfigError


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
