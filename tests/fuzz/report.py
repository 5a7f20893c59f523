"""The figures of a fuzz run (the JSON written by tests/test_fuzz.py when FLAGCORE_FUZZ_FIGURES is set) as a
markdown block between the fuzz-figures markers of a document.

    python tests/fuzz/report.py FIGURES.json docs/reliability.md

Only the text between ``<!-- fuzz-figures -->`` and ``<!-- /fuzz-figures -->`` is replaced; a missing document is
created with a "# Reliability" heading and the markers, and a document without the markers gets them at its end.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

START, END = "<!-- fuzz-figures -->", "<!-- /fuzz-figures -->"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in counts.items()) or "-"


def block(figures: dict[str, Any], outcome: str | None = None) -> str:
    calls = figures.get("calls", {})
    examples = sum(c["examples"] for c in calls.values())
    failing = {name: c for name, c in calls.items() if c["failures"]}
    lines = [
        f"Property-based tests of every public call (`tests/test_fuzz.py`, `nox -s fuzz`): "
        f"**{examples:,} examples** over {len(calls)} calls, up to {figures.get('max_examples_per_call', 0):,} "
        f"per call, in {figures.get('wall_s', 0):,.0f} s ({figures.get('finished', '?')}; hypothesis "
        f"{figures.get('hypothesis', '?')}, Python {figures.get('python', '?')}, {figures.get('cpus', '?')} CPUs; "
        f"deadline {figures.get('deadline_s', '?')} s per example). "
        + (f"**{len(failing)} call(s) failed.**" if failing else "No call failed.")
        + (f" {outcome}" if outcome else ""),
        "",
        "An example returned a result of the documented shape and type, or raised a documented exception with a "
        "message; the strategies know which inputs must be accepted and which refused. Examples counts every input "
        "run, replays and shrinking included; a call stops early when hypothesis has exhausted its strategies.",
        "",
        "| call | examples | returned | raised (documented) | warnings | time (s) | failures |",
        "| --- | ---: | ---: | --- | --- | ---: | ---: |",
    ]
    for name, c in calls.items():
        raised = {k: v for k, v in c["outcomes"].items() if k != "returned"}
        lines.append(f"| `{name}` | {c['examples']:,} | {c['outcomes'].get('returned', 0):,} | {_counts(raised)} | "
                     f"{_counts(c['warnings'])} | {c['seconds']:,.1f} | {len(c['failures'])} |")
    if failing:
        lines += ["", "Failures:", ""]
        for name, c in failing.items():
            for failure in c["failures"]:
                escaped = failure.replace("|", "\\|")
                lines.append(f"- `{name}`: {escaped}")
    return "\n".join(lines)


def write(document: Path, text: str) -> None:
    current = document.read_text(encoding="utf-8") if document.exists() else f"# Reliability\n\n{START}\n{END}\n"
    if START not in current or END not in current:
        current = current.rstrip("\n") + f"\n\n{START}\n{END}\n"
    head, rest = current.split(START, 1)
    _, tail = rest.split(END, 1)
    document.parent.mkdir(parents=True, exist_ok=True)
    document.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    figures_path, document = Path(argv[0]), Path(argv[1])
    if not figures_path.exists():
        print(f"{figures_path} does not exist: the fuzz run wrote no figures (did pytest start?)", file=sys.stderr)
        return 1
    figures = json.loads(figures_path.read_text(encoding="utf-8"))
    write(document, block(figures, argv[2] if len(argv) == 3 else None))
    print(f"fuzz figures written to {document}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
