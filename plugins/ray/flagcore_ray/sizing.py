"""How many actors, with how many CPUs or GPUs each, and how many rows per batch: read from the cluster's resources
when the caller does not say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Plan:
    concurrency: int  #: actors, each holding one model
    num_cpus: float  #: CPUs per actor (its torch threads on a CPU actor)
    num_gpus: float  #: GPUs per actor (1 / actors per GPU)
    rows_per_batch: int  #: rows of one map_batches call (sorted by length inside, batched under the token budget)
    #: padded tokens per forward batch (the model's ``max_batch_tokens``); None: the model's own budget for its device
    #: (a family tunes it, e.g. 512 for decoder-only models on a CPU)
    batch_tokens: int | None = None

    def map_batches_arguments(self) -> dict[str, Any]:
        from ray.data import ActorPoolStrategy

        arguments: dict[str, Any] = {"compute": ActorPoolStrategy(size=self.concurrency), "num_cpus": self.num_cpus,
                                     "batch_size": self.rows_per_batch}
        if self.num_gpus:
            arguments["num_gpus"] = self.num_gpus
        return arguments

    @property
    def threads(self) -> int:
        """torch threads of one actor."""
        return max(1, int(self.num_cpus))


def plan(resources: dict[str, float], *, concurrency: int | None = None, num_cpus: float | None = None,
         num_gpus: float | None = None, actors_per_gpu: int = 1, rows_per_batch: int | None = None,
         batch_tokens: int | None = None) -> Plan:
    """The plan for a cluster with ``resources`` (``ray.cluster_resources()``). With GPUs: ``actors_per_gpu`` actors
    on each GPU, one CPU each. Without: actors of up to 4 CPUs (torch threads scale poorly past that for these model
    sizes). One CPU is always left to the read and write tasks (without it, the pipeline waits forever on a
    single-node cluster); an actor runs ``max(1, num_cpus)`` torch threads, so fractional CPUs pack several actors on
    a core budget. ``batch_tokens`` is passed through: unless given, each model keeps its own token budget."""
    gpus = float(resources.get("GPU", 0)) if num_gpus is None else 0.0
    if num_gpus or gpus >= 1:
        per_actor_gpu = num_gpus or 1.0 / max(1, int(actors_per_gpu))
        actors = concurrency or max(1, int((gpus or per_actor_gpu) / per_actor_gpu))
        return Plan(actors, num_cpus or 1, per_actor_gpu, rows_per_batch or 4096, batch_tokens)
    cpus = float(resources.get("CPU", 1))
    usable = max(1.0, cpus - 1)  # actors holding every CPU would starve the read tasks feeding them
    per_actor = num_cpus or max(1.0, min(4.0, usable // (concurrency or 1)))
    actors = concurrency or max(1, int(usable // per_actor))
    return Plan(actors, per_actor, 0.0, rows_per_batch or 1024, batch_tokens)
