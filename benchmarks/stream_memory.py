"""Peak memory and speed of embedding a corpus streamed (``flagcore encode -o OUT.npy``) against in memory
(``encode_corpus(all texts)`` then ``np.save``), each in a fresh process.

    python benchmarks/stream_memory.py MODEL_DIR [--texts 100000]

Texts are generated short lines (~15 tokens). Peak RSS is the child process's maximum resident set size
(``getrusage``). Prints one markdown row per run, with the CPU, threads and load average.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import cpu_name  # noqa: E402

TOPICS = ["panda bears in the wild", "the capital of France", "machine learning basics", "how tides work",
          "a recipe for bread", "the history of Rome", "quantum computing"]
IN_MEMORY = """
import sys, numpy as np
from flagcore import FlagAutoModel
texts = open(sys.argv[2], encoding="utf-8").read().splitlines()
model = FlagAutoModel.from_finetuned(sys.argv[1], devices="cpu")
np.save(sys.argv[3], model.encode_corpus(texts, show_progress_bar=False))
"""


def child_run(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of a child process; the children's maximum RSS is read after it exits."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak <= before:
        raise RuntimeError("the child's peak RSS did not exceed an earlier child's: run each mode in its own process")
    return seconds, peak / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--mode", choices=("streamed", "in-memory"), required=True,
                        help="one mode per process: getrusage reports the largest child ever run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "texts.txt"
        source.write_text("\n".join(f"document {i}: {TOPICS[i % len(TOPICS)]} ({i % 13} notes)"
                                    for i in range(args.texts)) + "\n", encoding="utf-8")
        out = Path(scratch) / "out.npy"
        load = os.getloadavg()[0]
        if args.mode == "streamed":
            command = [sys.executable, "-m", "flagcore", "encode", args.model, "-i", str(source), "-o", str(out),
                       "--devices", "cpu"]
        else:
            command = [sys.executable, "-c", IN_MEMORY, args.model, str(source), str(out)]
        seconds, peak = child_run(command)
        print(f"| {args.mode} | {args.texts:,} | {seconds:.1f} s | {args.texts / seconds:.0f} | {peak:,.0f} MiB "
              f"| {load:.2f} → {os.getloadavg()[0]:.2f} | {cpu_name()}, {os.cpu_count()} cores |")


if __name__ == "__main__":
    main()
