"""What the candidate CPU paths (benchmarks/quantization.py, benchmarks/onnxruntime_check.py) share: the quality
bar, how quality is measured against fp32, and timing variants alternately."""

from __future__ import annotations

import time
from typing import Any, Callable

# A faster path ships only if its embeddings keep this close to fp32's.
BAR_COSINE, BAR_OVERLAP = 0.99, 0.9


def quality(embeddings: Any, reference: Any) -> tuple[float, float, float]:
    """Mean and least cosine to the reference, and top-10 neighbour overlap for the first 150 passages as queries
    (self-match excluded)."""
    import numpy as np

    cosine = (embeddings * reference).sum(1)
    queries = slice(0, 150)
    top_ref = np.argsort(-(reference[queries] @ reference.T), axis=1)[:, 1:11]
    top_new = np.argsort(-(embeddings[queries] @ embeddings.T), axis=1)[:, 1:11]
    overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top_ref, top_new, strict=True)]))
    return float(cosine.mean()), float(cosine.min()), overlap


def passes_bar(mean_cosine: float, overlap: float) -> bool:
    return mean_cosine >= BAR_COSINE and overlap >= BAR_OVERLAP


def time_alternately(variants: dict[str, Callable[[], Any]], rounds: int) -> tuple[dict[str, Any], dict[str, list]]:
    """Run every variant once per round, the starting one rotating; the last outputs and every round's seconds."""
    names = list(variants)
    outputs: dict[str, Any] = {}
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        for name in names[round_index % len(names):] + names[: round_index % len(names)]:
            start = time.perf_counter()
            outputs[name] = variants[name]()
            seconds[name].append(time.perf_counter() - start)
        print({name: round(s[-1], 2) for name, s in seconds.items()}, flush=True)
    return outputs, seconds
