"""docs/benchmarks-gpu.md from every GPU run recorded in benchmarks/results-gpu.jsonl."""

from __future__ import annotations

import json
from pathlib import Path


def write_gpu_report(results: Path, report: Path) -> None:
    runs = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = [
        "# GPU benchmark (fp16)",
        "",
        "Written by `nox -s bench -- --device cuda:0` (`benchmarks/run.py`): flagcore against sentence-transformers,",
        "both in fp16 on the named card, all-MiniLM-L6-v2 and the pydoc paragraphs of the CPU benchmark, libraries",
        "alternating round after round; docs/s is the median over rounds. Every run is listed.",
        "",
        "| date | card | torch | passages | flagcore docs/s | sentence-transformers docs/s | ratio | max abs diff |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        ours, theirs = run["docs_per_s"]["flagcore"], run["docs_per_s"]["sentence-transformers"]
        lines.append(f"| {run['date']} | {run['device']} | {run['torch']} | {run['passages']} | {ours:.0f} | "
                     f"{theirs:.0f} | {ours / theirs:.2f}× | {run['max_abs_diff']:.1e} |")
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
