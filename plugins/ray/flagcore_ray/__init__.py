"""flagcore on Ray Data: embed or rerank a ``ray.data.Dataset`` with any model flagcore resolves, one model per actor
(:class:`FlagcoreMapper` for ``Dataset.map_batches``); Ray does the distribution, retries and spilling."""

from __future__ import annotations

import os
from typing import Any, Sequence

from .mapper import OUTPUTS, FlagcoreMapper
from .sizing import Plan, plan

__all__ = ["OUTPUTS", "FlagcoreMapper", "Plan", "embed_dataset", "encode_parquet", "plan", "rerank_dataset"]


def _map(ds: Any, model: str, constructor: dict[str, Any], sizing: dict[str, Any], model_kwargs: dict[str, Any]) -> Any:
    import ray

    chosen = plan(ray.cluster_resources(), **sizing)
    if chosen.batch_tokens is not None:  # else each model keeps its family's budget for its device
        model_kwargs.setdefault("max_batch_tokens", chosen.batch_tokens)
    return ds.map_batches(FlagcoreMapper, fn_constructor_args=(model,),
                          fn_constructor_kwargs={**constructor, "threads": chosen.threads, **model_kwargs},
                          batch_format="pyarrow",
                          **chosen.map_batches_arguments())


def embed_dataset(ds: Any, model: str, column: str = "text", output_column: str = "embedding", *,
                  query: bool = False, outputs: Sequence[str] = ("dense",), concurrency: int | None = None,
                  num_cpus: float | None = None, num_gpus: float | None = None, actors_per_gpu: int = 1,
                  rows_per_batch: int | None = None, batch_tokens: int | None = None, **model_kwargs: Any) -> Any:
    """``ds`` with ``output_column`` added (dense vectors; with ``outputs`` naming them, M3's ``_lexical`` and
    ``_colbert`` columns too): actors, CPUs/GPUs per actor and rows per batch are picked from the cluster
    (:func:`plan`) unless given; tokens per forward batch (``batch_tokens``, or ``max_batch_tokens``) are the model's
    own unless given. Lazy, as Ray datasets are: nothing runs until the result is consumed or written.
    ``model_kwargs`` go to ``FlagAutoModel.from_finetuned``."""
    sizing = {"concurrency": concurrency, "num_cpus": num_cpus, "num_gpus": num_gpus, "actors_per_gpu": actors_per_gpu,
              "rows_per_batch": rows_per_batch, "batch_tokens": batch_tokens}
    constructor = {"kind": "embedder", "column": column, "output_column": output_column, "query": query,
                   "outputs": tuple(outputs)}
    return _map(ds, model, constructor, sizing, model_kwargs)


def rerank_dataset(ds: Any, model: str, query_column: str = "query", passage_column: str = "passage",
                   output_column: str = "score", *, concurrency: int | None = None, num_cpus: float | None = None,
                   num_gpus: float | None = None, actors_per_gpu: int = 1, rows_per_batch: int | None = None,
                   batch_tokens: int | None = None, **model_kwargs: Any) -> Any:
    """``ds`` with ``output_column``: the reranker's score of each row's (query, passage) pair (float32)."""
    sizing = {"concurrency": concurrency, "num_cpus": num_cpus, "num_gpus": num_gpus, "actors_per_gpu": actors_per_gpu,
              "rows_per_batch": rows_per_batch, "batch_tokens": batch_tokens}
    constructor = {"kind": "reranker", "query_column": query_column, "passage_column": passage_column,
                   "output_column": output_column}
    return _map(ds, model, constructor, sizing, model_kwargs)


def encode_parquet(source: str, target: str, model: str, column: str = "text", output_column: str = "embedding",
                   **options: Any) -> int:
    """Parquet in (a file or folder, local or a URL Ray reads), a folder of Parquet files out with every input
    column and ``output_column``; connects to the cluster of ``RAY_ADDRESS`` (or starts a local one). Returns the
    rows written. ``flagcore encode MODEL --ray -i IN -o OUT`` calls this."""
    import ray

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    embed_dataset(ray.data.read_parquet(source), model, column=column, output_column=output_column,
                  **options).write_parquet(target)
    if "://" in target:
        return -1
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(os.path.join(target, name)).metadata.num_rows
               for name in sorted(os.listdir(target)) if name.endswith(".parquet"))
