"""Commands that load a model: ``encode``, ``rerank`` and ``bench``."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any, TextIO


def read_lines(source: str) -> list[str]:
    """One text per line from a file, or from stdin for ``-``."""
    stream: TextIO = sys.stdin if source == "-" else open(source, encoding="utf-8")
    with stream:
        return stream.read().splitlines()


def _options(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    options = {"model_class": args.model_class, "devices": args.devices, "batch_size": args.batch_size, **extra}
    return {k: v for k, v in options.items() if v is not None}


def cmd_encode(args: argparse.Namespace) -> int:
    from ..auto import FlagAutoModel

    texts = read_lines(args.input)
    model = FlagAutoModel.from_finetuned(args.model, **_options(
        args, pooling_method=args.pooling_method, query_instruction_for_retrieval=args.instruction,
        query_max_length=args.max_length, passage_max_length=args.max_length, quantize=args.quantize))
    encode = model.encode_queries if args.queries else model.encode_corpus
    embeddings = encode(texts, show_progress_bar=len(texts) > model.batch_size)
    if args.output.endswith(".npy"):
        import numpy as np

        np.save(args.output, embeddings)
        print(f"wrote {embeddings.shape[0]} x {embeddings.shape[1]} embeddings to {args.output}", file=sys.stderr)
        return 0
    sink = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    with sink:
        for text, vector in zip(texts, embeddings, strict=True):
            sink.write(json.dumps({"text": text, "embedding": [float(x) for x in vector]}, ensure_ascii=False) + "\n")
    return 0


def cmd_rerank(args: argparse.Namespace) -> int:
    """Candidates ranked against a query, best first, as JSON lines ``{"index", "score", "text"}``. A reranker model
    scores each (query, candidate) pair; an embedder model ranks by the cosine similarity of the query's and the
    candidates' embeddings."""
    from ..auto import FlagAutoModel, FlagAutoReranker
    from ..errors import ModelResolutionError
    from ..resolve import resolve

    candidates = read_lines(args.input)
    top_k = args.top_k or len(candidates)
    kind = args.kind
    if kind == "auto":
        try:
            resolve(args.model, "reranker", args.model_class)
            kind = "reranker"
        except ModelResolutionError:
            kind = "embedder"
    if kind == "reranker":
        reranker = FlagAutoReranker.from_finetuned(args.model, **_options(args, max_length=args.max_length))
        ranked = [(r.index, r.score) for r in reranker.rank(args.query, candidates, top_k=top_k,
                                                            normalize=args.normalize or None)]
    else:
        print(f"flagcore: {args.model} is an embedder: candidates ranked by cosine similarity of embeddings",
              file=sys.stderr)
        embedder = FlagAutoModel.from_finetuned(args.model, **_options(
            args, query_max_length=args.max_length, passage_max_length=args.max_length))
        similarity = embedder.similarity(embedder.encode_queries([args.query]), embedder.encode_corpus(candidates))[0]
        order = sorted(range(len(candidates)), key=lambda i: -float(similarity[i]))[:top_k]
        ranked = [(i, float(similarity[i])) for i in order]
    for index, score in ranked:
        print(json.dumps({"index": index, "score": score, "text": candidates[index]}, ensure_ascii=False))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Texts per second of one model on this machine: a warm-up call, then ``--runs`` timed calls."""
    import torch

    from ..auto import FlagAutoModel, FlagAutoReranker

    texts = read_lines(args.input) if args.input else [
        f"Sentence {i}: the quick brown fox jumps over the lazy dog, " * (1 + i % 8) for i in range(args.texts)]
    if not texts:
        raise ValueError("bench needs at least one text (the input was empty)")
    model: Any
    if args.kind == "reranker":
        model = FlagAutoReranker.from_finetuned(args.model, **_options(args))
        pairs = [(texts[i - 1], text) for i, text in enumerate(texts)]

        def call() -> Any:
            return model.compute_score(pairs, show_progress_bar=False)
    else:
        model = FlagAutoModel.from_finetuned(args.model, **_options(args, quantize=args.quantize))

        def call() -> Any:
            return model.encode_corpus(texts, show_progress_bar=False)

    call()
    seconds = []
    for _ in range(args.runs):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    median = statistics.median(seconds)
    unit = "pairs" if args.kind == "reranker" else "texts"
    print(f"{args.model}: {len(texts) / median:.1f} {unit}/s (median of {args.runs} runs of {len(texts)} {unit}: "
          f"{median:.3f} s, min {min(seconds):.3f} s, max {max(seconds):.3f} s) on {model.device}, "
          f"{model.compute_dtype}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    return 0
