"""What is left beside the GEMMs on flagcore's fp32 torch path: the operator time of one encode, by kind.

    python benchmarks/fp32_profile.py --threads 2 [--passages 700]

all-MiniLM-L6-v2 as the CPU-backends benchmark loads it (mean pooling, max length 512), warmed up untimed, then one
``encode_corpus`` of the passages under ``torch.profiler`` (CPU activity; self time per operator, summed by kind).
"outside operators" is the encode's wall time less every operator's self time: tokenization, batching, pooling's
and the engine's Python, and the profiler's own cost. Prints one JSON object (benchmarks/cpu_backends.py keeps it
in the record).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: kind: aten operator names (without "aten::"); an operator in none of them counts as "other operators"
KINDS = {
    "linear layers (GEMM + bias)": {"addmm", "mm", "matmul", "linear", "_int_mm", "mkldnn_linear"},
    "attention": {"_scaled_dot_product_flash_attention_for_cpu", "scaled_dot_product_attention", "bmm", "baddbmm",
                  "_softmax", "softmax", "_safe_softmax"},
    "layer norms, GELU, residual adds": {"native_layer_norm", "layer_norm", "gelu", "add", "add_"},
    "copies, casts, padding, masks": {
        "copy_", "_to_copy", "to", "clone", "contiguous", "cat", "where", "fill_", "zero_", "constant_pad_nd", "pad",
        "index", "expand", "masked_fill", "empty", "empty_strided", "zeros", "ones", "full", "reshape", "view",
        "transpose", "permute", "unsqueeze", "slice", "select", "as_strided", "t", "lift_fresh", "from_numpy",
        "resize_", "bitwise_and", "bitwise_not", "logical_not"},
}


def kind_of(key: str) -> str:
    name = key.removeprefix("aten::")
    return next((kind for kind, names in KINDS.items() if name in names), "other operators")


def profile_encode(model_dir: str, passages: list[str], threads: int, max_length: int) -> dict:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from flagcore import FlagAutoModel

    torch.set_num_threads(threads)
    model = FlagAutoModel.from_finetuned(model_dir, devices="cpu", pooling_method="mean",
                                         query_max_length=max_length, passage_max_length=max_length)
    model.encode_corpus(passages[:16], show_progress_bar=False)
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.encode_corpus(passages, show_progress_bar=False)
    wall = time.perf_counter() - started
    kinds: dict[str, float] = {kind: 0.0 for kind in [*KINDS, "other operators"]}
    operators: dict[str, float] = {}
    for event in prof.key_averages():
        seconds = event.self_cpu_time_total / 1e6
        kinds[kind_of(event.key)] += seconds
        operators[event.key] = operators.get(event.key, 0.0) + seconds
    kinds["outside operators (tokenization, batching, Python, profiler)"] = max(0.0, wall - sum(kinds.values()))
    top = dict(sorted(operators.items(), key=lambda item: -item[1])[:12])
    return {"passages": len(passages), "threads": threads, "wall_s": wall, "kinds_s": kinds, "top_operators_s": top}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--passages", type=int, default=700)
    parser.add_argument("--max-length", type=int, default=512)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent / "tests" / "parity"))
    from cpu_backends import texts
    from tiny_models import minilm_dir

    _, passages = texts(args.passages)
    print(json.dumps(profile_encode(str(minilm_dir()), passages, args.threads, args.max_length)))


if __name__ == "__main__":
    main()
