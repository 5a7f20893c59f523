"""The callable class for ``Dataset.map_batches``: the model is built once per actor (in its constructor); each call
takes a batch (a pyarrow Table) and returns it with the output columns added."""

from __future__ import annotations

from typing import Any, Sequence

#: what an embedder can add: dense vectors (every embedder), lexical weights and ColBERT vectors (where the model
#: declares them, as BGE-M3 does), and the name of each among flagcore's outputs
OUTPUT_KINDS = {"dense": "dense", "lexical": "sparse", "colbert": "multi_vector"}
OUTPUTS = tuple(OUTPUT_KINDS)


def actor_devices() -> str:
    """The GPU Ray gave this actor (Ray sets CUDA_VISIBLE_DEVICES, so it is cuda:0 here), else the CPU."""
    import ray

    return "cuda:0" if ray.is_initialized() and ray.get_gpu_ids() else "cpu"


class FlagcoreMapper:
    """``ds.map_batches(FlagcoreMapper, fn_constructor_kwargs={...}, batch_format="pyarrow", concurrency=n)``.

    ``kind="embedder"``: embeds ``column`` (as queries when ``query``) into ``output_column`` (a fixed-size list of
    float32); with ``outputs`` including ``"lexical"`` / ``"colbert"`` (BGE-M3), also ``{output_column}_lexical`` (a
    map of token id to weight) and ``{output_column}_colbert`` (a list of vectors per row). ``kind="reranker"``:
    scores the pairs of ``query_column`` and ``passage_column`` into ``output_column`` (float32).
    ``threads``: torch threads of this actor (Ray's CPU count for it otherwise). ``model_kwargs`` go to
    ``FlagAutoModel`` / ``FlagAutoReranker.from_finetuned`` (``devices``: the actor's GPU or the CPU unless given).
    """

    def __init__(self, model: str, *, kind: str = "embedder", column: str = "text", output_column: str = "embedding",
                 query: bool = False, outputs: Sequence[str] = ("dense",), query_column: str = "query",
                 passage_column: str = "passage", threads: int | None = None, **model_kwargs: Any) -> None:
        from flagcore import FlagAutoModel, FlagAutoReranker

        if threads:
            import torch

            torch.set_num_threads(int(threads))

        if kind not in ("embedder", "reranker"):
            raise ValueError(f"kind must be 'embedder' or 'reranker', got {kind!r}")
        unknown = sorted(set(outputs) - set(OUTPUTS))
        if unknown or not outputs:
            raise ValueError(f"outputs must be some of {OUTPUTS}, got {list(outputs)!r}")
        self.kind, self.column, self.output_column, self.query = kind, column, output_column, bool(query)
        self.outputs = tuple(outputs)
        self.query_column, self.passage_column = query_column, passage_column
        model_kwargs.setdefault("devices", actor_devices())
        self.model: Any = (FlagAutoReranker if kind == "reranker" else FlagAutoModel).from_finetuned(
            model, **model_kwargs)

    def __call__(self, batch: Any) -> Any:
        if self.kind == "reranker":
            return self._rerank(batch)
        return self._embed(batch)

    def _rerank(self, batch: Any) -> Any:
        import pyarrow as pa

        pairs = list(zip(batch.column(self.query_column).to_pylist(), batch.column(self.passage_column).to_pylist(),
                         strict=True))
        scores = self.model.infer(self.model.prepare_pairs(pairs, show_progress_bar=False))
        return batch.append_column(self.output_column, pa.array(scores.final, type=pa.float32()))

    def _embed(self, batch: Any) -> Any:
        import numpy as np

        texts = batch.column(self.column).to_pylist()
        wanted = {OUTPUT_KINDS[name] for name in self.outputs}
        work = self.model.prepare_side(texts, query=self.query, outputs=wanted, convert_to_numpy=True,
                                       show_progress_bar=False)
        result = self.model.infer(work)
        if "dense" in self.outputs:
            batch = batch.append_column(self.output_column, vectors(np.asarray(result.dense, dtype=np.float32)))
        if "lexical" in self.outputs:
            batch = batch.append_column(f"{self.output_column}_lexical", lexical(result.sparse))
        if "colbert" in self.outputs:
            batch = batch.append_column(f"{self.output_column}_colbert",
                                        multi_vectors(result.multi_vector, self.model.embedding_dim))
        return batch


def vectors(array: Any) -> Any:
    """An ``(n, d)`` float32 array as a fixed-size-list column."""
    import numpy as np
    import pyarrow as pa

    array = np.ascontiguousarray(array, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(array.reshape(-1)), int(array.shape[1]))


def lexical(weights: list[dict[str, float]]) -> Any:
    import pyarrow as pa

    return pa.array([[(k, float(v)) for k, v in row.items()] for row in weights],
                    type=pa.map_(pa.string(), pa.float32()))


def multi_vectors(rows: list[Any], width: int) -> Any:
    """Per row a ``(tokens, d)`` array: a list of fixed-size lists."""
    import numpy as np
    import pyarrow as pa

    width = int(rows[0].shape[1]) if rows else width
    flat = np.concatenate([np.asarray(r, dtype=np.float32).reshape(-1) for r in rows]) if rows else \
        np.zeros(0, dtype=np.float32)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int32)
    inner = pa.FixedSizeListArray.from_arrays(pa.array(flat), width)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)
