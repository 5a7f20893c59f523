"""Which int8 plan can be flagcore's faster CPU path? Speed and quality of quantize='int8' (outlier channels in fp32,
asymmetric per-token activations), quantize='int8-per-token' (the earlier plan) and, with --torch-dynamic,
PyTorch's dynamic quantization, against fp32.

    python benchmarks/quantization.py [--passages 700] [--rounds 5] [--torch-dynamic] [--out docs/quantization.md]

The corpus and quality measures are benchmarks/cpu_backends.py's: all-MiniLM-L6-v2 (mean pooling, max length 512),
every third pydoc paragraph; mean and minimum cosine of the passage vectors to fp32's, and the overlap of the top-10
passages of 50 queries. Variants run alternately (the first one rotating), a variant's time is the median over
rounds, as wall-clock and as this process's CPU seconds (the second is steadier on a shared machine). The target:
min cosine ≥ 0.999 and clearly faster than fp32.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "parity"))
MAX_LENGTH, TARGET_MIN_COSINE = 512, 0.999


def corpus(passages: int) -> tuple[list[str], list[str]]:
    """(queries, passages) as benchmarks/cpu_backends.py picks them."""
    from corpus import pairs, paragraphs

    chosen = paragraphs()[::3][:passages]
    questions = sorted({q for q, _ in pairs(chosen[:1])})
    return questions + [p[:100] for p in chosen[::14]][: 50 - len(questions)], chosen


def quality(reference: dict, other: dict) -> tuple[float, float, float]:
    """Mean and min cosine of the passage vectors, and the top-10 overlap of the queries (as cpu_backends.py)."""
    import numpy as np

    cosine = (reference["passages"] * other["passages"]).sum(axis=1)
    top = [set(np.argsort(-(q @ reference["passages"].T))[:10]) for q in reference["queries"]]
    got = [set(np.argsort(-(q @ other["passages"].T))[:10]) for q in other["queries"]]
    return float(cosine.mean()), float(cosine.min()), sum(len(a & b) for a, b in zip(top, got, strict=True)) / (
        10 * len(top))


def variants(minilm: str, torch_dynamic: bool) -> dict[str, Callable[[], Any]]:
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    from flagcore import FlagAutoModel

    def flagcore(**options: Any) -> Any:
        return FlagAutoModel.from_finetuned(minilm, devices="cpu", pooling_method="mean", query_max_length=MAX_LENGTH,
                                            passage_max_length=MAX_LENGTH, **options)

    def swapped(quantize: Callable[[Any], Any]) -> Any:
        embedder = flagcore()
        embedder.model = quantize(copy.deepcopy(embedder.model))
        return embedder

    found = {"fp32 (the default)": flagcore,
             "quantize='int8-per-token' (symmetric per-token, every channel int8)":
                 lambda: flagcore(quantize="int8-per-token"),
             "quantize='int8' (fp32 outlier channels, asymmetric per-token)": lambda: flagcore(quantize="int8")}
    if torch_dynamic:
        found["torch dynamic int8, every Linear, per-channel weights"] = lambda: swapped(
            lambda m: quantize_dynamic(m, {torch.nn.Linear: per_channel_dynamic_qconfig}))
    return found


def run(models: dict[str, Any], queries: list[str], passages: list[str], rounds: int) -> tuple[dict, dict, dict]:
    """Alternating rounds: each variant's outputs, wall seconds and CPU seconds per round."""
    import numpy as np

    names, outputs = list(models), {}
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    for index in range(rounds):
        for name in names[index % len(names):] + names[: index % len(names)]:
            started, cpu_started = time.perf_counter(), time.process_time()
            vectors = models[name].encode_corpus(passages, show_progress_bar=False)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - cpu_started)
            if name not in outputs:
                outputs[name] = {"passages": np.asarray(vectors, dtype=np.float32), "queries": np.asarray(
                    models[name].encode_queries(queries, show_progress_bar=False), dtype=np.float32)}
        print({n: round(s[-1], 2) for n, s in wall.items()}, flush=True)
    return outputs, wall, cpu


RESULTS_START, RESULTS_END = "<!-- results: benchmarks/quantization.py -->", "<!-- end of results -->"


def report(rows: list[tuple], args: argparse.Namespace, passages: int, base: list[float]) -> list[str]:
    """The results section of docs/quantization.md."""
    import torch

    from flagcore.engine.cpu import cpu_report

    cpu = cpu_report()
    lines = [
        RESULTS_START,
        f"Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} by `benchmarks/quantization.py`: all-MiniLM-L6-v2 "
        f"(mean pooling, max length {MAX_LENGTH}), {passages} pydoc paragraphs (every third, as "
        f"`benchmarks/cpu_backends.py`); {cpu.name} ({', '.join(f for f in cpu.flags if 'vnni' in f or 'amx' in f)}), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.rounds} alternating rounds on a machine "
        f"shared with other jobs (medians; fp32 took {', '.join(f'{x:.1f}' for x in base)} s wall). Quality against "
        "fp32: mean and min cosine of the passage vectors, top-10 overlap of 50 queries.", "",
        "| variant | docs/s | speed vs fp32 (wall) | speed vs fp32 (CPU s) | mean cosine | min cosine "
        "| top-10 overlap |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | {docs:.0f} | {wall:.2f}× | {cpu_speed:.2f}× | {mean:.5f} | {least:.5f} | {overlap:.3f} |"
              for name, docs, wall, cpu_speed, mean, least, overlap in rows]
    return lines + [RESULTS_END]


def write_results(path: Path, lines: list[str]) -> None:
    """Replace the results section of ``path`` (or append one), keeping the prose around it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# int8 quantization on the CPU\n"
    before, found, rest = text.partition(RESULTS_START)
    after = rest.partition(RESULTS_END)[2] if found else "\n"
    path.write_text(before.rstrip("\n") + "\n\n" + "\n".join(lines) + after, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--passages", type=int, default=700)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--torch-dynamic", action="store_true", help="also PyTorch's dynamic quantization")
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "quantization.md")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from tiny_models import minilm_dir

    queries, passages = corpus(args.passages)
    models = {name: make() for name, make in variants(str(minilm_dir()), args.torch_dynamic).items()}
    for model in models.values():  # first calls (placement, calibration, kernel compilation) are not timed
        model.encode_corpus(passages[:64], show_progress_bar=False)
    outputs, wall, cpu = run(models, queries, passages, args.rounds)
    names = list(models)
    base, base_cpu = statistics.median(wall[names[0]]), statistics.median(cpu[names[0]])
    rows = [(name, len(passages) / statistics.median(wall[name]), base / statistics.median(wall[name]),
             base_cpu / statistics.median(cpu[name]), *quality(outputs[names[0]], outputs[name])) for name in names]
    for row in rows:
        print(row, flush=True)
    write_results(args.out, report(rows, args, len(passages), wall[names[0]]))


if __name__ == "__main__":
    main()
