"""The resume state of ``flagcore encode -o OUT``: ``OUT.progress.json`` next to the output, rewritten atomically
(a temporary file, then ``os.replace``) after every chunk whose rows are durable in OUT. It records the rows done,
what the output writer needs to go on, the settings of the run and a fingerprint of the input; a rerun of the same
command continues after the last complete chunk, and refuses, before the model loads, when the input or the settings
changed, naming each difference. It is removed when the output is complete."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from typing import Any

VERSION = 1

#: the errors of a write that found no room, and what each means
NO_ROOM = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the output reached the file-size limit"}
if hasattr(errno, "EDQUOT"):
    NO_ROOM[errno.EDQUOT] = "the disk quota is used up"
#: what frees the room again, by error
MAKE_ROOM = {errno.EFBIG: "raise the file-size limit (ulimit -f)"}


class OutputFull(OSError):
    """A file output that ran out of room part-way (the disk or the quota full, or the file-size limit reached). Its
    message is the whole story for the command line: how far the run got and what to do."""


def out_of_room(exc: OSError, output: str, rows_done: int, total: int | None, resumable: bool) -> OutputFull | None:
    """The error to show when ``exc`` says the output found no room, after ``rows_done`` durable rows (None when
    ``exc`` is another error)."""
    cause = NO_ROOM.get(exc.errno or 0)
    if cause is None:
        return None
    code = int(exc.errno or 0)
    of_total = "" if total is None else f" of {total:,}"
    where = "standard output" if output == "-" else output
    fix = MAKE_ROOM.get(code, "free space")
    then = (f"{fix} and run the same command again to continue" if resumable else
            f"{fix} and run the command again (an output that is not a file starts over)")
    error = OutputFull(f"{cause} ({os.strerror(code)}) after {rows_done:,}{of_total} rows were written to {where}; "
                       f"{then}")
    error.errno = code
    return error


def state_path(output: str) -> str:
    return output + ".progress.json"


def _shown(value: Any) -> str:
    """A setting's value as a difference shows it."""
    if value is None:
        return "(not given)"
    if isinstance(value, str) and value and value == value.strip():
        return value
    return repr(value)


def _input_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The input fingerprints' differences, as ``input: ...`` and ``column: old → new``."""
    found = []
    if old.get("path") != new.get("path"):
        found.append(f"input: another file ({_shown(old.get('path'))} → {_shown(new.get('path'))})")
    elif any(old.get(key) != new.get(key) for key in ("size", "mtime_ns", "sha256_ends", "format")):
        what = []
        if old.get("size") != new.get("size"):
            what.append(f"size {old.get('size')} → {new.get('size')} bytes")
        if old.get("mtime_ns") != new.get("mtime_ns"):
            what.append("modification time")
        if old.get("sha256_ends") != new.get("sha256_ends"):
            what.append("content hash")
        found.append(f"input: changed ({', '.join(what) or 'format'})")
    if old.get("column") != new.get("column"):
        found.append(f"column: {_shown(old.get('column'))} → {_shown(new.get('column'))}")
    return found


def differences(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]]:
    """How the recorded run ``old`` differs from this one: (the settings' differences, the input's), each as
    ``name: old → new``."""
    old_settings, new_settings = old.get("settings") or {}, new.get("settings") or {}
    names = [*new_settings, *(key for key in old_settings if key not in new_settings)]
    settings = [f"{key}: {_shown(old_settings.get(key))} → {_shown(new_settings.get(key))}" for key in names
                if old_settings.get(key) != new_settings.get(key)]
    settings += [f"{key}: {_shown(old.get(key))} → {_shown(new.get(key))}" for key in ("chunk_size", "format")
                 if old.get(key) != new.get(key)]
    return settings, _input_differences(old.get("input") or {}, new.get("input") or {})


class Progress:
    def __init__(self, output: str, run: dict[str, Any]) -> None:
        """``run``: the settings and input fingerprint that must match for a rerun to continue this one. A progress
        file of another run is refused with each difference named."""
        self.output = output
        self.path = state_path(output)
        self.run = run
        self.rows_done = 0
        self.sink_state: dict[str, Any] | None = None
        if os.path.exists(self.path):
            saved = self._read()
            self._check(saved)
            self.rows_done = int(saved["rows_done"])
            self.sink_state = saved.get("sink") or {}

    def _read(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as f:
                saved = json.load(f)
            if not isinstance(saved, dict) or not isinstance(saved.get("run"), dict):
                raise ValueError("it is not a progress record")
            int(saved["rows_done"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.path} cannot be read as the progress of an unfinished run "
                             f"({type(exc).__name__}: {exc}); delete {self.output} and {self.path} to start "
                             "again") from exc
        return saved

    def _check(self, saved: dict[str, Any]) -> None:
        """Refuse a progress file recorded by another run, naming every difference."""
        settings, source = differences(saved["run"], self.run)
        if saved.get("version") != VERSION:
            settings.insert(0, f"progress file version: {_shown(saved.get('version'))} → {VERSION}")
        if not settings and not source:
            return
        what = " and ".join(part for part, differ in (("the settings differ", settings),
                                                      ("the input differs", source)) if differ)
        raise ValueError(f"{self.path} records an unfinished run that this command cannot continue: {what} "
                         f"({'; '.join(settings + source)}). Finish it with the command that started it (the old "
                         f"options and input), or delete {self.output} and {self.path} to start again")

    @property
    def resuming(self) -> bool:
        return self.sink_state is not None

    def save(self, rows_done: int, sink_state: dict[str, Any]) -> None:
        """Record ``rows_done`` (durable in the output) atomically: a failed save leaves the previous record."""
        tmp = self.path + ".tmp"
        def write(target: str) -> None:
            with open(target, "w", encoding="utf-8") as f:
                json.dump({"version": VERSION, "rows_done": rows_done, "sink": sink_state, "run": self.run}, f)
                f.flush()
                os.fsync(f.fileno())

        replace_durably(tmp, self.path, write)
        self.rows_done = rows_done

    def done(self) -> None:
        if os.path.exists(self.path):
            os.remove(self.path)


def replace_durably(tmp: str, path: str, write: Any) -> None:
    """``write(tmp)`` (which makes ``tmp`` durable), then ``tmp`` becomes ``path`` and the rename is synced; on any
    failure ``tmp`` is removed and ``path`` is left as it was."""
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    sync_directory(path)


def sync_directory(path: str) -> None:
    """Make the rename of ``path`` durable (fsync its directory; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
