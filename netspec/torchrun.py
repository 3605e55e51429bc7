"""Whether this process is one of several that torchrun started, read once from the environment. No torch.

torchrun gives each process its whole set: RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT. A shell
often holds one of them for other reasons (a cluster's RANK, a stray WORLD_SIZE=2), so netspec reads them only when
the whole set is there; otherwise it is one process on its own, whatever any one variable says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from netspec.errors import NetspecError

VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Launch:
    """This process's place among torchrun's: its rank, its rank on this machine, and how many there are."""

    rank: int
    local_rank: int
    world: int


def launched() -> Launch | None:
    """torchrun's settings for this process, or None when it was not started by torchrun (or alike)."""
    if not all(name in os.environ for name in VARIABLES):
        return None
    numbers = {}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT"):
        text = os.environ[name]
        if not text.isdigit():
            raise NetspecError(f"environment variable {name}={text!r}: expected a whole number, as torchrun sets it")
        numbers[name] = int(text)
    launch = Launch(numbers["RANK"], numbers["LOCAL_RANK"], numbers["WORLD_SIZE"])
    if not 0 <= launch.rank < launch.world:
        raise NetspecError(f"environment variables RANK={launch.rank} and WORLD_SIZE={launch.world}: RANK must be less")
    return launch


def is_main_process() -> bool:
    """Rank 0, or alone: the process that prints and writes."""
    try:
        launch = launched()
    except NetspecError:
        return True  # the error is reported where the settings are used; say it once, here
    return launch is None or launch.rank == 0
