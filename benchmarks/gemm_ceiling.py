"""GEMM-only ceilings of the CPU-backends benchmark: docs/s if only the linear layers' matrix multiplies ran.

    python benchmarks/gemm_ceiling.py --threads 2 --passages 700 [--record-shapes] [--repeats 2]

The passages are tokenized as flagcore tokenizes them (max length 512) and batched as flagcore batches them on a CPU
(longest first, at most 256 texts and 2048 padded tokens a batch: ``flagcore.engine.batching.Batcher``). For each
batch of M = texts × width token rows, every layer's six linear-layer GEMMs (Q, K, V, attention output: hidden ×
hidden; FFN in: hidden × FFN; FFN out: FFN × hidden) run alone, at the same thread count, in one precision:

- fp32: ``torch.matmul`` of fp32 activations and the (out, in) weight transposed, as ``nn.Linear`` multiplies;
- bf16: the same in bf16 (oneDNN; AMX where the CPU has it);
- int8: ``torch._int_mm`` of int8 row codes (M, in) and the int8 weight (in, out), the shapes of ``quantize='int8'``.

No bias, attention, GELU, layer norm, casts, quantization passes, tokenization or Python: passages ÷ the summed
seconds is the rate no path computing these GEMMs in that precision can beat with torch's kernels on this CPU now.
Each batch's GEMMs are timed ``--repeats`` times and the fastest taken. all-MiniLM-L6-v2's shapes (384 / 1536, 6
layers) are the benchmark's; ``--record-shapes`` times bge-small-sized (384 / 1536, 12 layers) and bge-base-sized
(768 / 3072, 12 layers) instead, on the same batches, for the record. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: name: (hidden, FFN, layers)
SHAPES = {
    "all-MiniLM-L6-v2 (384 / 1536, 6 layers)": (384, 1536, 6),
    "bge-small-sized (384 / 1536, 12 layers)": (384, 1536, 12),
    "bge-base-sized (768 / 3072, 12 layers)": (768, 3072, 12),
}
BENCHMARK_SHAPE = next(iter(SHAPES))
PRECISIONS = ("fp32", "bf16", "int8")
BATCH_SIZE = 256  # the embedders' default batch_size


def batch_rows(model_dir: str, texts: list[str], max_length: int) -> list[int]:
    """Token rows (texts × padded width) of each batch flagcore's default CPU plan runs on ``texts``."""
    from transformers import AutoTokenizer

    from flagcore.engine.batching import Batcher
    from flagcore.model_base import DEFAULT_CPU_BATCH_TOKENS

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]
    batcher = Batcher(lengths, BATCH_SIZE, DEFAULT_CPU_BATCH_TOKENS)
    return [len(batch) * int(batcher.lengths[batch[0]]) for batch in batcher.all_batches()]


def layer_operands(precision: str, hidden: int, ffn: int) -> list[tuple[int, object]]:
    """(input width, weight) of a layer's six linears, the weight laid out as the precision's path holds it."""
    import torch

    generator = torch.Generator().manual_seed(0)
    shapes = [(hidden, hidden)] * 4 + [(ffn, hidden), (hidden, ffn)]  # (out, in), as nn.Linear stores it
    weights = []
    for out_features, in_features in shapes:
        if precision == "int8":
            weight = torch.randint(-127, 128, (in_features, out_features), dtype=torch.int8, generator=generator)
        else:
            dtype = torch.bfloat16 if precision == "bf16" else torch.float32
            weight = torch.randn(out_features, in_features, generator=generator).to(dtype).t()  # a transposed view
        weights.append((in_features, weight))
    return weights


def activations(precision: str, rows: int, width: int) -> object:
    import torch

    if precision == "int8":
        return torch.randint(-127, 128, (rows, width), dtype=torch.int8)
    return torch.randn(rows, width).to(torch.bfloat16 if precision == "bf16" else torch.float32)


def gemm_seconds(rows_per_batch: list[int], hidden: int, ffn: int, layers: int, precision: str,
                 repeats: int) -> float:
    """Summed seconds of every batch's linear-layer GEMMs (fastest of ``repeats`` per batch)."""
    import torch

    multiply = torch._int_mm if precision == "int8" else torch.matmul
    weights = layer_operands(precision, hidden, ffn)
    total = 0.0
    with torch.inference_mode():
        inputs = {width: activations(precision, 64, width) for width in (hidden, ffn)}
        for width, weight in weights:  # warm-up: oneDNN's first call of a shape builds its kernel
            multiply(inputs[width], weight)
        for rows in rows_per_batch:
            inputs = {width: activations(precision, rows, width) for width in (hidden, ffn)}
            best = float("inf")
            for _ in range(repeats):
                started = time.perf_counter()
                for _ in range(layers):
                    for width, weight in weights:
                        multiply(inputs[width], weight)
                best = min(best, time.perf_counter() - started)
            total += best
    return total


def ceilings(model_dir: str, texts: list[str], max_length: int, threads: int, shapes: list[str],
             repeats: int = 2) -> dict:
    """{shape: {precision: {"seconds", "docs_per_s"}}} and the batch plan's size."""
    import torch

    torch.set_num_threads(threads)
    rows = batch_rows(model_dir, texts, max_length)
    result: dict = {"batches": len(rows), "token_rows": sum(rows), "threads": threads, "shapes": {}}
    for name in shapes:
        hidden, ffn, layers = SHAPES[name]
        result["shapes"][name] = {}
        for precision in PRECISIONS:
            seconds = gemm_seconds(rows, hidden, ffn, layers, precision, repeats)
            result["shapes"][name][precision] = {"seconds": seconds, "docs_per_s": len(texts) / seconds}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--passages", type=int, default=700)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--record-shapes", action="store_true",
                        help="the bge-small- and bge-base-sized shapes instead of all-MiniLM-L6-v2's")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent / "tests" / "parity"))
    from cpu_backends import texts
    from tiny_models import minilm_dir

    _, passages = texts(args.passages)
    shapes = list(SHAPES)[1:] if args.record_shapes else [BENCHMARK_SHAPE]
    print(json.dumps(ceilings(str(minilm_dir()), passages, args.max_length, args.threads, shapes, args.repeats)))


if __name__ == "__main__":
    main()
