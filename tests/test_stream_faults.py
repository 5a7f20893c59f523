"""`flagcore encode` on a disk that fills up, and with the progress file of another run.

A write that fails with EFBIG (RLIMIT_FSIZE in a child process) or ENOSPC stops the command with one line saying how
far it got, leaves the output holding exactly the rows its progress file records, and the same command run again
gives the uninterrupted run's bytes (.npy, JSON lines, Parquet). A progress file of another model, other options or
another input is refused before the model loads, naming each difference. ``encode_stream``'s tokenizer thread stops
when its consumer fails to write."""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flagcore.auto import FlagAutoModel
from flagcore.cli import main, resume, stream_io

ROWS, CHUNK = 300, 32
TEXTS = [f"row {i}: " + "pandas eat bamboo " * (1 + i % 4) for i in range(ROWS)]
try:
    import pyarrow  # noqa: F401

    SUFFIXES = [".npy", ".jsonl", ".parquet"]
except ImportError:  # the Parquet output needs pyarrow (nox's tests session installs it, with flagcore-ray)
    SUFFIXES = [".npy", ".jsonl"]


@pytest.fixture(scope="module")
def model_dir(tiny_models):
    return str(tiny_models["tiny-bert"])


def write_text(path: Path, texts: list[str] = TEXTS) -> Path:
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return path


def command(model_dir: str, source: Path, out: Path, *extra: str) -> list[str]:
    return ["encode", model_dir, "--model-class", "encoder-only-base", "-i", str(source), "-o", str(out),
            "--chunk-size", str(CHUNK), *extra]


def run_child(*argv: str, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` in a child process whose files may not grow past ``limit`` bytes (None: no limit)."""

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # no .pyc written past the limit
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, timeout=300,
                          preexec_fn=limit_file_size)


@pytest.fixture(scope="module")
def uninterrupted(model_dir, tmp_path_factory) -> dict[str, bytes]:
    """Each format's output of an uninterrupted run (made in one child process), by suffix."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    source = write_text(folder / "in.txt")
    runs = [command(model_dir, source, folder / f"whole{suffix}") for suffix in SUFFIXES]
    script = "import json, sys\nfrom flagcore.cli import main\nsys.exit(max(main(a) for a in json.loads(sys.argv[1])))"
    done = run_child("-c", script, json.dumps(runs))
    assert done.returncode == 0, done.stderr
    return {suffix: (folder / f"whole{suffix}").read_bytes() for suffix in SUFFIXES}


def rows_recorded(out: Path) -> int:
    return int(json.loads(Path(f"{out}.progress.json").read_text(encoding="utf-8"))["rows_done"])


def assert_holds_exactly(out: Path, suffix: str, rows: int, whole: bytes) -> None:
    """``out`` holds the first ``rows`` rows of the uninterrupted output, and nothing after them."""
    if suffix == ".npy":
        width = (len(whole) - 128) // (ROWS * 4)  # tiny-bert's .npy header is 128 bytes
        assert out.read_bytes() == whole[:128 + rows * width * 4]
    elif suffix == ".jsonl":
        assert out.read_bytes() == b"".join(whole.splitlines(keepends=True)[:rows])
    else:
        import pyarrow.parquet as pq

        parts = sorted(Path(f"{out}.parts").iterdir())
        assert all(p.name.startswith("part-") for p in parts)  # no temporary file left
        assert sum(pq.ParquetFile(p).metadata.num_rows for p in parts) == rows
        assert not out.exists() and not Path(f"{out}.tmp").exists()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_the_file_size_limit_stops_cleanly_and_the_rerun_gives_the_uninterrupted_file(model_dir, uninterrupted,
                                                                                       tmp_path, suffix):
    whole = uninterrupted[suffix]
    source, out = write_text(tmp_path / "in.txt"), tmp_path / f"out{suffix}"
    stopped = run_child("-m", "flagcore", *command(model_dir, source, out), limit=len(whole) // 2)
    assert stopped.returncode == 1, stopped.stderr
    assert "Traceback" not in stopped.stderr
    rows = rows_recorded(out)
    # .npy and JSON lines stop part-way; Parquet's parts are each under the limit: the join of them stops
    assert rows == ROWS if suffix == ".parquet" else 0 < rows < ROWS and rows % CHUNK == 0
    assert stopped.stderr.strip().splitlines()[-1] == (
        f"flagcore: error: the output reached the file-size limit (File too large) after {rows:,} of {ROWS:,} rows "
        f"were written to {out}; raise the file-size limit (ulimit -f) and run the same command again to continue")
    assert_holds_exactly(out, suffix, rows, whole)
    again = run_child("-m", "flagcore", *command(model_dir, source, out))
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", out.name]  # no progress, parts or temp file


class FullDisk:
    """``stream_io``'s ``os`` on a disk with ``room`` bytes free: the write that reaches the end writes what fits,
    the next one fails with ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: Any) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = os.write(fd, bytes(memoryview(data)[:self.room]))
        self.room -= written
        return written


@pytest.mark.parametrize("suffix", [".npy", ".jsonl"])
def test_a_full_disk_stops_with_one_line_and_the_rerun_gives_the_uninterrupted_file(model_dir, tmp_path,
                                                                                      monkeypatch, capsys, suffix):
    source = write_text(tmp_path / "in.txt")
    whole, out = tmp_path / f"whole{suffix}", tmp_path / f"out{suffix}"
    assert main(command(model_dir, source, whole)) == 0
    with monkeypatch.context() as patch:
        patch.setattr(stream_io, "os", FullDisk(whole.stat().st_size // 3))
        assert main(command(model_dir, source, out)) == 1
    rows = rows_recorded(out)
    assert 0 < rows < ROWS
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"flagcore: error: the disk is full (No space left on device) after {rows:,} of {ROWS:,} rows were written "
        f"to {out}; free space and run the same command again to continue")
    assert_holds_exactly(out, suffix, rows, whole.read_bytes())
    assert main(command(model_dir, source, out)) == 0
    assert out.read_bytes() == whole.read_bytes()


class ProgressDiskFull:
    """``resume``'s ``os`` on a disk that fills up at the third progress save (after the third chunk is written)."""

    def __init__(self) -> None:
        self.saves = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def replace(self, src: str, dst: str) -> None:
        self.saves += 1
        if self.saves == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        os.replace(src, dst)


def test_a_progress_file_that_cannot_be_saved_keeps_the_last_one(model_dir, tmp_path, monkeypatch, capsys):
    source = write_text(tmp_path / "in.txt")
    whole, out = tmp_path / "whole.jsonl", tmp_path / "out.jsonl"
    assert main(command(model_dir, source, whole)) == 0
    with monkeypatch.context() as patch:
        patch.setattr(resume, "os", ProgressDiskFull())
        assert main(command(model_dir, source, out)) == 1
    assert rows_recorded(out) == 2 * CHUNK  # the third chunk is in the output, but not recorded: a rerun redoes it
    assert f"after {2 * CHUNK:,} of {ROWS:,} rows were written" in capsys.readouterr().err
    assert not Path(f"{out}.progress.json.tmp").exists()
    assert len(out.read_bytes().splitlines()) == 3 * CHUNK
    assert main(command(model_dir, source, out)) == 0
    assert out.read_bytes() == whole.read_bytes()


@pytest.fixture
def stopped(model_dir, tmp_path, monkeypatch, capsys):
    """An .npy output (``--pooling-method cls``) stopped by a full disk after two chunks: (input, output)."""
    source, out = write_text(tmp_path / "in.txt"), tmp_path / "out.npy"
    with monkeypatch.context() as patch:
        patch.setattr(stream_io, "os", FullDisk(128 + 2 * CHUNK * 32 * 4 + 100))
        assert main(command(model_dir, source, out, "--pooling-method", "cls")) == 1
    assert rows_recorded(out) == 2 * CHUNK
    capsys.readouterr()

    def loaded(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(FlagAutoModel, "from_finetuned", loaded)  # a refusal must come first
    return source, out


@pytest.mark.parametrize("change, named", [
    (["--pooling-method", "mean"], "pooling_method: cls → mean"),
    (["--queries"], "queries: False → True"),
    (["--max-length", "16"], "max_length: (not given) → 16"),
    (["--chunk-size", "50"], f"chunk_size: {CHUNK} → 50"),
])
def test_other_settings_are_refused_before_the_model_loads(model_dir, stopped, capsys, change, named):
    source, out = stopped
    size = out.stat().st_size
    assert main(command(model_dir, source, out, "--pooling-method", "cls", *change)) == 1
    err = capsys.readouterr().err
    assert "the model was loaded" not in err
    assert f"the settings differ ({named})" in err
    assert f"delete {out} and {out}.progress.json to start again" in err
    assert rows_recorded(out) == 2 * CHUNK and out.stat().st_size == size  # both left as they were


def test_another_model_is_refused_before_it_loads(model_dir, tiny_models, stopped, capsys):
    source, out = stopped
    other = str(tiny_models["tiny-xlmr"])
    assert main(command(other, source, out, "--pooling-method", "cls")) == 1
    err = capsys.readouterr().err
    assert "the model was loaded" not in err
    assert f"model: {model_dir} → {other}" in err


def test_another_input_is_refused_before_the_model_loads(model_dir, stopped, tmp_path, capsys):
    source, out = stopped
    write_text(source, TEXTS[::-1])  # the same size, other contents
    assert main(command(model_dir, source, out, "--pooling-method", "cls")) == 1
    err = capsys.readouterr().err
    assert "the input differs (input: changed (" in err and "content hash" in err
    other = write_text(tmp_path / "other.txt")
    assert main(command(model_dir, other, out, "--pooling-method", "cls", "--queries")) == 1
    err = capsys.readouterr().err
    assert "the settings differ and the input differs (queries: False → True; input: another file (" in err
    assert "the model was loaded" not in err


def test_a_missing_output_or_an_unreadable_progress_file_is_refused(model_dir, stopped, capsys):
    source, out = stopped
    data = out.read_bytes()
    out.unlink()
    assert main(command(model_dir, source, out, "--pooling-method", "cls")) == 1
    assert f"records {2 * CHUNK} rows written to {out}, but {out} is missing" in capsys.readouterr().err
    out.write_bytes(data[:200])
    assert main(command(model_dir, source, out, "--pooling-method", "cls")) == 1
    assert f"{out} holds 200 bytes, fewer than" in capsys.readouterr().err
    Path(f"{out}.progress.json").write_text('{"version": 1, "rows_do', encoding="utf-8")
    assert main(command(model_dir, source, out, "--pooling-method", "cls")) == 1
    assert "cannot be read as the progress of an unfinished run (JSONDecodeError" in capsys.readouterr().err


def test_encode_stream_stops_its_thread_when_the_consumer_cannot_write(embedder):
    def write(chunk: Any) -> None:  # a consumer writing to a full disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError, match="No space left"):
        for chunk in embedder.encode_stream((f"text {i}" for i in range(100_000)), chunk_size=16):
            write(chunk)
    assert not [t for t in threading.enumerate() if t.name == "flagcore-stream-tokenizer"]
    np.testing.assert_array_equal(next(embedder.encode_stream(["a", "b"])), embedder.encode(["a", "b"]))
