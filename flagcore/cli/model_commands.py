"""Commands that load a model: ``encode``, ``rerank`` and ``bench``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from typing import Any, TextIO


def read_lines(source: str) -> list[str]:
    """One text per line from a file, or from stdin for ``-``."""
    from .stream_io import check_input_file

    stream: TextIO = sys.stdin if source == "-" else open(check_input_file(source), encoding="utf-8")
    with stream:
        return stream.read().splitlines()


def _options(args: argparse.Namespace, **extra: Any) -> dict[str, Any]:
    options = {"model_class": args.model_class, "devices": args.devices, "batch_size": args.batch_size,
               "use_bf16": True if args.bf16 else None, "backend": args.backend, **extra}
    return {k: v for k, v in options.items() if v is not None}


def cmd_encode(args: argparse.Namespace) -> int:
    """Embed the input chunk by chunk into the output (memory bounded by ``--chunk-size``, not the corpus). A file
    output records its progress in ``OUT.progress.json``: the same command run again after a crash continues after
    the last complete chunk. ``--ray`` hands a Parquet file to Ray Data (flagcore-ray) instead."""
    if getattr(args, "ray", False):
        return _encode_with_ray(args)
    import collections
    import tempfile

    from tqdm.auto import tqdm

    from ..auto import FlagAutoModel
    from ..streaming import DEFAULT_CHUNK_SIZE, chunked
    from .resume import Progress
    from .stream_io import JsonlSink, NpySink, ParquetSink, Sink, Source, dense_rows, file_format

    column = getattr(args, "column", None) or "text"
    chunk_size = getattr(args, "chunk_size", None) or DEFAULT_CHUNK_SIZE
    out_format = "npy" if args.output.endswith(".npy") else file_format(args.output)
    if out_format == "text":
        out_format = "jsonl"  # any other name (or stdout) gets JSON lines, as before
    with tempfile.TemporaryDirectory() as spool_dir:
        path = args.input
        if path == "-" and out_format == "npy":  # a memory-mapped .npy needs the row count: spool stdin to disk
            path = os.path.join(spool_dir, "stdin.txt")
            with open(path, "w", encoding="utf-8") as spool:
                shutil.copyfileobj(sys.stdin, spool)
        source = Source(path, column)
        total = source.count()
        model = FlagAutoModel.from_finetuned(args.model, **_options(
            args, pooling_method=args.pooling_method, query_instruction_for_retrieval=args.instruction,
            query_max_length=args.max_length, passage_max_length=args.max_length, quantize=args.quantize))
        progress = None
        if args.input != "-" and args.output != "-":
            settings = {key: getattr(args, key, None) for key in (
                "model", "model_class", "queries", "instruction", "pooling_method", "max_length", "quantize", "bf16",
                "backend")}
            progress = Progress(args.output, {"input": source.fingerprint(), "settings": settings,
                                              "chunk_size": chunk_size, "format": out_format})
        done = progress.rows_done if progress else 0
        sink: Sink
        if out_format == "npy":
            sink = NpySink(args.output, int(total or 0), resume=bool(progress and progress.resuming))
        elif out_format == "parquet":
            sink = ParquetSink(args.output, resume=bool(progress and progress.resuming))
        else:
            sink = JsonlSink(args.output, progress.sink_state if progress else None)
        pending: collections.deque[list[str]] = collections.deque()

        def feed() -> Any:  # the stream reads ahead in its tokenizer thread; the chunks wait here for their output
            for chunk in chunked(source.texts(done), chunk_size):
                pending.append(chunk)
                yield from chunk

        encode_stream = model.encode_queries_stream if args.queries else model.encode_corpus_stream
        bar = tqdm(total=total, initial=done, desc="Encoding", unit="text", file=sys.stderr,
                   disable=total is not None and total - done <= model.batch_size)
        try:
            for output in encode_stream(feed(), chunk_size=chunk_size):
                texts = pending.popleft()
                sink.write(done, texts, dense_rows(output))
                done += len(texts)
                if progress:
                    progress.save(done, sink.state())
                bar.update(len(texts))
        finally:
            bar.close()
        if isinstance(sink, NpySink):
            sink.finish(model.embedding_dim)
        else:
            sink.finish()
        if progress:
            progress.done()
    if out_format == "npy":
        print(f"wrote {done} x {model.embedding_dim} embeddings to {args.output}", file=sys.stderr)
    return 0


def _encode_with_ray(args: argparse.Namespace) -> int:
    try:
        import flagcore_ray
    except ImportError as exc:
        raise ImportError("flagcore encode --ray needs flagcore-ray: pip install 'flagcore[ray]'") from exc
    options = _options(args, pooling_method=args.pooling_method, query_instruction_for_retrieval=args.instruction,
                       query_max_length=args.max_length, passage_max_length=args.max_length, quantize=args.quantize)
    options.pop("devices", None)  # each actor gets its own device from Ray
    rows = flagcore_ray.encode_parquet(args.input, args.output, args.model, column=getattr(args, "column", None)
                                       or "text", query=args.queries, **options)
    print(f"wrote {rows} embeddings to {args.output} (Parquet files)", file=sys.stderr)
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
    from ..engine.cpu import cpu_report

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
          f"{model.compute_dtype}, {torch.get_num_threads()} threads, torch {torch.__version__}; CPU: "
          f"{cpu_report().describe()}")
    return 0
