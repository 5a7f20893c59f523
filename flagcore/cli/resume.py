"""The resume state of ``flagcore encode -o OUT``: ``OUT.progress.json`` next to the output, rewritten atomically
after every chunk whose rows are durable in OUT. It records the rows done, what the output writer needs to go on,
the settings of the run and a fingerprint of the input; a rerun of the same command continues after the last
complete chunk, and refuses when the input or the settings changed. It is removed when the output is complete."""

from __future__ import annotations

import json
import os
from typing import Any

VERSION = 1


def state_path(output: str) -> str:
    return output + ".progress.json"


class Progress:
    def __init__(self, output: str, run: dict[str, Any]) -> None:
        """``run``: the settings and input fingerprint that must match for a rerun to continue this one."""
        self.path = state_path(output)
        self.run = run
        self.rows_done = 0
        self.sink_state: dict[str, Any] | None = None
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                saved = json.load(f)
            if saved.get("version") != VERSION or saved.get("run") != self.run:
                changed = sorted(k for k in set(self.run) | set(saved.get("run", {}))
                                 if self.run.get(k) != saved.get("run", {}).get(k))
                raise ValueError(f"{self.path} records an unfinished run with other settings or another input "
                                 f"({', '.join(changed) or 'version'} differ); rerun that command to finish it, or "
                                 f"delete {output} and {self.path} to start again")
            self.rows_done = int(saved["rows_done"])
            self.sink_state = saved.get("sink", {})

    @property
    def resuming(self) -> bool:
        return self.sink_state is not None

    def save(self, rows_done: int, sink_state: dict[str, Any]) -> None:
        self.rows_done = rows_done
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"version": VERSION, "rows_done": rows_done, "sink": sink_state, "run": self.run}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def done(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)
