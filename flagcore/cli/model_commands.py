"""Commands that load a model: ``encode``, ``rerank`` and ``bench``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .resume import Progress
    from .stream_io import Sink, Source


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


def embedder_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``FlagAutoModel.from_finetuned`` arguments of ``flagcore encode``'s options (add-ons handling ``encode``,
    such as flagcore-ray's ``--ray``, build the model from them too)."""
    return _options(args, pooling_method=args.pooling_method, query_instruction_for_retrieval=args.instruction,
                    query_max_length=args.max_length, passage_max_length=args.max_length, quantize=args.quantize)


#: the options whose values a resumed ``encode`` must share with the run it continues
RESUME_SETTINGS = ("model", "model_class", "queries", "instruction", "pooling_method", "max_length", "quantize", "bf16",
                   "backend")


def cmd_encode(args: argparse.Namespace) -> int:
    """Embed the input chunk by chunk into the output (memory bounded by ``--chunk-size``, not the corpus). A file
    output records its progress in ``OUT.progress.json``: the same command run again after a crash or a full disk
    continues after the last complete chunk; a progress file of another run is refused before the model loads."""
    import tempfile

    from ..auto import FlagAutoModel
    from ..streaming import DEFAULT_CHUNK_SIZE
    from .stream_io import Source

    chunk_size = getattr(args, "chunk_size", None) or DEFAULT_CHUNK_SIZE
    out_format = _output_format(args.output)
    with tempfile.TemporaryDirectory() as spool_dir:
        source = Source(_input_path(args.input, out_format, spool_dir), getattr(args, "column", None) or "text")
        total = source.count()
        # before the model loads: a finished output, or a progress file of another run, is refused
        _refuse_finished_output(args)
        progress = _progress(args, source, chunk_size, out_format)
        sink = _open_sink(args.output, out_format, int(total or 0), progress)
        model = FlagAutoModel.from_finetuned(args.model, **embedder_options(args))
        first = progress.rows_done if progress else 0
        done = _encode_chunks(model, args.queries, source, sink, progress, first, total, chunk_size)
        try:
            _finish(sink, progress, model.embedding_dim)
        except OSError as exc:
            _raise_if_no_room(exc, sink, done, total, progress)
            raise
    if out_format == "npy":
        print(f"wrote {done} x {model.embedding_dim} embeddings to {args.output}", file=sys.stderr)
    return 0


def _refuse_finished_output(args: argparse.Namespace) -> None:
    """An existing output without a progress file is a finished run's: embedding again would overwrite it, so only
    ``--overwrite`` does (an unfinished output, with its progress file, is resumed instead)."""
    from .resume import state_path

    output = args.output
    if output == "-" or getattr(args, "overwrite", False) or not os.path.exists(output):
        return
    if os.path.exists(state_path(output)):
        return
    raise FileExistsError(f"{output} already exists and is complete (it has no {os.path.basename(state_path(output))}"
                          "): pass --overwrite to embed again into it, or choose another --output")


def _output_format(output: str) -> str:
    """'npy', 'parquet' or 'jsonl', by the output's name."""
    from .stream_io import file_format

    if output.endswith(".npy"):
        return "npy"
    out_format = file_format(output)
    return "jsonl" if out_format == "text" else out_format  # any other name (or stdout) gets JSON lines, as before


def _input_path(path: str, out_format: str, spool_dir: str) -> str:
    """The file to read: ``path``, or stdin copied into ``spool_dir`` when the output needs the row count first."""
    if path != "-" or out_format != "npy":
        return path
    spooled = os.path.join(spool_dir, "stdin.txt")  # a memory-mapped .npy needs the row count before the first chunk
    with open(spooled, "w", encoding="utf-8") as spool:
        shutil.copyfileobj(sys.stdin, spool)
    return spooled


def _progress(args: argparse.Namespace, source: Source, chunk_size: int, out_format: str) -> Progress | None:
    """The resume state of a file-to-file run (None when either end is a stream)."""
    from .resume import Progress

    if args.input == "-" or args.output == "-":
        return None
    settings = {key: getattr(args, key, None) for key in RESUME_SETTINGS}
    return Progress(args.output, {"input": source.fingerprint(), "settings": settings, "chunk_size": chunk_size,
                                  "format": out_format})


def _open_sink(output: str, out_format: str, total: int, progress: Progress | None) -> Sink:
    """The writer of ``output``, positioned after the rows a resumed run already wrote."""
    from .stream_io import JsonlSink, NpySink, ParquetSink

    rows_done = progress.rows_done if progress and progress.resuming else None
    if out_format == "npy":
        return NpySink(output, total, rows_done)
    if out_format == "parquet":
        return ParquetSink(output, rows_done)
    return JsonlSink(output, progress.sink_state if progress else None, rows_done or 0)


def _raise_if_no_room(exc: OSError, sink: Sink, done: int, total: int | None, progress: Progress | None) -> None:
    """The one-line error of an output that found no room (full disk, file-size limit), saying how far the run got
    (the rows its progress file records); nothing for other errors (the caller re-raises them)."""
    from .resume import out_of_room

    error = out_of_room(exc, sink.path, progress.rows_done if progress else done, total, progress is not None)
    if error is not None:
        raise error from exc


def _encode_chunks(model: Any, queries: bool, source: Source, sink: Sink, progress: Progress | None, first: int,
                   total: int | None, chunk_size: int) -> int:
    """Embed the source's rows from ``first`` on into ``sink``, saving the progress after every chunk; returns the
    rows done."""
    import collections

    from tqdm.auto import tqdm

    from ..outputs import DENSE
    from ..streaming import chunked, stream_stages

    pending: collections.deque[list[str]] = collections.deque()

    def feed() -> Any:  # the stream reads ahead in its tokenizer thread; the chunks wait here for their output
        for chunk in chunked(source.texts(first), chunk_size):
            pending.append(chunk)
            yield from chunk

    done = first
    def prepare(chunk: list[str], **options: Any) -> Any:
        return model.prepare_side(chunk, query=queries, outputs={DENSE}, convert_to_numpy=True, **options)

    # a bar only for work worth watching, and only on a terminal (None: tqdm's own check)
    bar = tqdm(total=total, initial=done, desc="Encoding", unit="text", file=sys.stderr,
               disable=True if total is not None and total - done <= model.batch_size else None)
    try:
        for output in stream_stages(prepare, model.infer, feed(), chunk_size=chunk_size):
            texts = pending.popleft()
            sink.write(done, texts, output.dense)  # durable when it returns; a failed write leaves no partial rows
            done += len(texts)
            if progress:
                progress.save(done, sink.state())
            bar.update(len(texts))
    except OSError as exc:
        _raise_if_no_room(exc, sink, done, total, progress)
        raise
    finally:
        bar.close()
    return done


def _finish(sink: Sink, progress: Progress | None, width: int) -> None:
    """Make the output complete and drop its resume state (then the parts only a resume needed)."""
    from .stream_io import NpySink

    if isinstance(sink, NpySink):
        sink.finish(width)
    else:
        sink.finish()
    if progress:
        progress.done()
    sink.cleanup()


def cmd_rerank(args: argparse.Namespace) -> int:
    """Candidates ranked against a query, best first, as JSON lines ``{"index", "score", "text"}``. A reranker model
    scores each (query, candidate) pair; an embedder model ranks by the cosine similarity of the query's and the
    candidates' embeddings."""
    from ..auto import FlagAutoModel, FlagAutoReranker
    from ..resolve import model_kind

    candidates = read_lines(args.input)
    top_k = args.top_k or len(candidates)
    kind = model_kind(args.model, args.model_class) if args.kind == "auto" else args.kind
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
