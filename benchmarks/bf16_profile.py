"""Where the CPU time of one encode goes, fp32 against ``use_bf16=True`` (torch profiler, self time per operator).

    python benchmarks/bf16_profile.py [--passages 200]

all-MiniLM-L6-v2, mean pooling, max length 512, every third paragraph of the corpus. Prints a markdown table per
path. On a CPU without native bf16, ``FLAGCORE_CPU_BF16=1`` forces the bf16 path (and shows why it is not taken).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests" / "parity"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    from corpus import paragraphs
    from tiny_models import minilm_dir
    from torch.profiler import ProfilerActivity, profile

    from flagcore import FlagAutoModel
    from flagcore.engine.cpu import cpu_report

    print(f"CPU: {cpu_report().describe()}\n")
    texts = paragraphs()[::3][: args.passages]
    for bf16 in (False, True):
        model = FlagAutoModel.from_finetuned(str(minilm_dir()), devices="cpu", pooling_method="mean", use_bf16=bf16,
                                             passage_max_length=512)
        model.encode_corpus(texts[:30], show_progress_bar=False)
        started = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model.encode_corpus(texts, show_progress_bar=False)
        seconds = time.perf_counter() - started
        events = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in events)
        print(f"### {'use_bf16=True' if bf16 else 'fp32'} ({model.compute_dtype}): {seconds:.2f} s wall, "
              f"{total / 1e6:.2f} s of operator time (both threads)\n")
        print("| operator | self time | share | calls |\n| --- | ---: | ---: | ---: |")
        for event in sorted(events, key=lambda e: -e.self_cpu_time_total)[: args.top]:
            print(f"| `{event.key}` | {event.self_cpu_time_total / 1e6:.3f} s | "
                  f"{100 * event.self_cpu_time_total / total:.1f}% | {event.count} |")
        print()


if __name__ == "__main__":
    main()
