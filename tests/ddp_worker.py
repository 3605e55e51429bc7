"""One process of a two-process training run that the tests start themselves (torch.multiprocessing.spawn), so
that each rank's trained weights can be compared: what torchrun does, with the ranks' results kept."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch.distributed as dist
from safetensors.torch import save_file

import netspec


def train_rank(rank: int, world: int, port: int, folder: str, spec: netspec.Spec, settings: dict[str, Any]) -> None:
    os.environ |= {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": str(world)}
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        result = netspec.train(spec, **settings)
        weights = {k: v.contiguous() for k, v in result.model.state_dict().items()}
        save_file(weights, str(Path(folder) / f"rank{rank}.safetensors"))
    finally:
        dist.destroy_process_group()
