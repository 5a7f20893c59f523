"""Where ``flagcore encode`` reads texts and writes embeddings, chunk by chunk: text lines, JSON lines or a Parquet
column in; ``.npy``, JSON lines or Parquet out, each chunk durable (fsync) before the progress file counts it, and a
failed write leaving the output as it was. Parquet needs pyarrow (an optional dependency: the error names it)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

from ..extras import install_hint
from .resume import replace_durably, state_path, sync_directory

PARQUET_SUFFIXES = (".parquet", ".pq")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


def file_format(path: str) -> str:
    """'parquet', 'jsonl' or 'text', by the file name (stdin, '-', is text)."""
    lower = path.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    return "text"


def need_pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise ImportError("reading or writing Parquet needs pyarrow: pip install pyarrow (or "
                          f"{install_hint('ray')}, which brings it)") from exc
    return pyarrow


# -- input -----------------------------------------------------------------------------------------------------
def check_input_file(path: str) -> str:
    """``path``, refused when it is a directory (open() would say only "Is a directory")."""
    if path != "-" and os.path.isdir(path):
        raise FileNotFoundError(f"--input {path!r} is a directory, not a file: pass a file with one text per line "
                                "(or JSON lines, or Parquet), or - for stdin")
    return path


class Source:
    """The texts of one input file: ``count()`` rows (None when unknown), ``texts(skip)`` from row ``skip`` on."""

    def __init__(self, path: str, column: str = "text") -> None:
        self.path = check_input_file(path)
        self.column = column
        self.format = file_format(path)

    def count(self) -> int | None:
        if self.path == "-":
            return None
        if self.format == "parquet":
            need_pyarrow()
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(self.path).metadata.num_rows)
        return sum(1 for _ in self.texts(0, decode=False))

    def texts(self, skip: int = 0, decode: bool = True) -> Iterator[Any]:
        return islice(self._rows(decode), skip, None)

    def _rows(self, decode: bool) -> Iterator[Any]:
        if self.format == "parquet":
            need_pyarrow()
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(self.path)
            if self.column not in parquet.schema_arrow.names:
                raise KeyError(f"{self.path} has no column {self.column!r} (columns: "
                               f"{', '.join(parquet.schema_arrow.names)}); pass --column")
            for batch in parquet.iter_batches(batch_size=4096, columns=[self.column]):
                yield from batch.column(0).to_pylist()
            return
        stream = sys.stdin if self.path == "-" else open(self.path, encoding="utf-8")
        try:
            for number, line in enumerate(stream, 1):
                if self.format == "text":
                    yield from line.splitlines()  # the same rows as str.splitlines() over the whole file
                elif line.strip():
                    yield self._field(line, number) if decode else None
        finally:
            if stream is not sys.stdin:
                stream.close()

    def _field(self, line: str, number: int) -> Any:
        row = json.loads(line)
        if isinstance(row, str):
            return row
        if not isinstance(row, dict) or self.column not in row:
            raise KeyError(f"{self.path}, line {number}: expected a JSON object with a {self.column!r} field (or a "
                           "JSON string); pass --column to name another field")
        return row[self.column]

    def fingerprint(self) -> dict[str, Any]:
        """Size, modification time and a hash of the first and last MiB: a resumed run refuses another input."""
        stat = os.stat(self.path)
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            digest.update(f.read(1 << 20))
            if stat.st_size > 2 << 20:
                f.seek(-(1 << 20), os.SEEK_END)
                digest.update(f.read())
        return {"path": os.path.abspath(self.path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "sha256_ends": digest.hexdigest(), "format": self.format, "column": self.column}


# -- output ----------------------------------------------------------------------------------------------------
def _write_at(path: str, position: int, *data: bytes | memoryview, create: bool = False) -> None:
    """``data`` written at byte ``position`` of ``path`` and made durable (fsync) before this returns. On any error
    (a full disk: ENOSPC; the file-size limit: EFBIG) the file is cut back to ``position``, so that it holds only
    what was durable before: no partial rows."""
    flags = os.O_WRONLY | getattr(os, "O_BINARY", 0) | (os.O_CREAT | os.O_TRUNC if create else 0)
    fd = os.open(path, flags, 0o666)
    try:
        os.lseek(fd, position, os.SEEK_SET)
        for buffer in data:
            view = memoryview(buffer).cast("B")
            while view:
                view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, position)
        raise
    finally:
        os.close(fd)
    if create:
        sync_directory(path)


def _fsync_file(path: str | Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _check_exists(path: str, rows: int) -> None:
    if not os.path.isfile(path):
        progress = state_path(path)
        raise FileNotFoundError(f"{progress} records {rows:,} rows written to {path}, but {path} is missing; delete "
                                f"{progress} to start again")


def _resume_at(path: str, size: int, rows: int) -> None:
    """Cut ``path`` back to ``size`` bytes, the end of the ``rows`` rows its progress file records (what a stopped
    write left after them goes); refused when the file lacks them."""
    _check_exists(path, rows)
    progress = state_path(path)
    have = os.path.getsize(path)
    if have < size:
        raise ValueError(f"{path} holds {have:,} bytes, fewer than the {size:,} of the {rows:,} rows {progress} "
                         f"records (it was changed after the run stopped); delete {path} and {progress} to start "
                         "again")
    if have > size:
        os.truncate(path, size)


class Sink:
    """Writes chunks of rows at known positions; ``state()`` is what a resumed run needs to go on. A chunk is durable
    when ``write`` returns; a ``write`` that fails leaves the output as it was before it."""

    path = "-"

    def write(self, start: int, texts: list[str], vectors: Any) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {}

    def finish(self) -> None:
        """Make the output complete (the last rows durable, parts joined)."""

    def cleanup(self) -> None:
        """Remove what only a resumed run needed (called once the progress file is gone)."""


class NpySink(Sink):
    """A ``(total, d)`` float32 ``.npy``: the header, then each chunk's rows appended with plain writes (a write that
    finds the disk full raises OSError, where a store into a memory map would die of SIGBUS). Resuming cuts the file
    back to the rows its progress file records and appends from there."""

    def __init__(self, path: str, total: int, rows_done: int | None = None) -> None:
        """``rows_done``: the rows a resumed run's progress file records (None: a new output)."""
        self.path, self.total = path, total
        self.width: int | None = None
        self.offset = 0  # bytes before the first row (the .npy header)
        if rows_done is not None:
            self._reopen(rows_done)

    def _reopen(self, rows_done: int) -> None:
        import numpy as np

        _check_exists(self.path, rows_done)
        with open(self.path, "rb") as f:
            try:
                major, _ = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if major == 1 else
                               np.lib.format.read_array_header_2_0)
                shape, fortran_order, dtype = read_header(f)
            except ValueError as exc:
                raise ValueError(f"{self.path} is not a .npy file ({exc}): it is not this run's output; delete it "
                                 f"and {state_path(self.path)} to start again") from exc
            offset = f.tell()
        if len(shape) != 2 or shape[0] != self.total or dtype != np.float32 or fortran_order:
            raise ValueError(f"{self.path} is {tuple(shape)} {dtype}, not ({self.total}, d) float32: it is not this "
                             f"run's output; delete it and {state_path(self.path)} to start again")
        self.width, self.offset = int(shape[1]), offset
        _resume_at(self.path, offset + rows_done * self.width * 4, rows_done)

    def _header(self, width: int) -> bytes:
        """The header ``np.save`` writes for a ``(total, width)`` float32 array."""
        import numpy as np

        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
                                                      "fortran_order": False, "shape": (self.total, width)})
        return buffer.getvalue()

    def write(self, start: int, texts: list[str], vectors: Any) -> None:
        import numpy as np

        rows = np.ascontiguousarray(vectors, dtype="<f4")
        width = int(rows.shape[1])
        if self.width is None:  # a new output: the header goes first
            header = self._header(width)
            _write_at(self.path, 0, header, rows.data, create=True)
            self.width, self.offset = width, len(header)
            return
        if width != self.width:
            raise ValueError(f"{self.path} holds {self.width}-dimensional rows and this model gives {width}: it is "
                             f"not this run's output; delete it and {state_path(self.path)} to start again")
        _write_at(self.path, self.offset + start * width * 4, rows.data)

    def finish(self, width: int | None = None) -> None:
        import numpy as np

        if self.width is None:  # an empty input
            np.save(self.path, np.zeros((self.total, width or 0), dtype=np.float32))
            return
        rows = (os.path.getsize(self.path) - self.offset) // (self.width * 4)
        if rows != self.total:
            raise ValueError(f"{self.path} holds {rows:,} rows, not the {self.total:,} the input had when the run "
                             f"started: the input changed while it was read; delete {self.path} and run again")


class JsonlSink(Sink):
    """``{"text", "embedding"}`` per line, to a file (resuming cuts it back to the bytes of the complete chunks) or to
    stdout."""

    def __init__(self, path: str, resume_state: dict[str, Any] | None, rows_done: int = 0) -> None:
        self.path = path
        self.size = 0  # bytes durable in the file
        if path == "-":
            return
        if resume_state is None:
            with open(path, "wb"):
                pass
            sync_directory(path)
        else:
            self.size = int(resume_state.get("bytes", 0))
            _resume_at(path, self.size, rows_done)

    def write(self, start: int, texts: list[str], vectors: Any) -> None:
        lines = "".join(json.dumps({"text": text, "embedding": [float(x) for x in vector]}, ensure_ascii=False) + "\n"
                        for text, vector in zip(texts, vectors, strict=True))
        if self.path == "-":
            sys.stdout.write(lines)
            sys.stdout.flush()
            return
        data = lines.encode("utf-8")
        _write_at(self.path, self.size, data)
        self.size += len(data)

    def state(self) -> dict[str, Any]:
        return {"bytes": self.size} if self.path != "-" else {}


class ParquetSink(Sink):
    """Columns ``text`` and ``embedding`` (fixed-size list of float32). Each chunk is one part file (written, fsynced,
    then renamed into ``OUT.parts/``); the parts become the row groups of ``OUT`` at the end (written beside it, then
    renamed), so a crash or a full disk leaves whole parts only."""

    def __init__(self, path: str, rows_done: int | None = None) -> None:
        """``rows_done``: the rows a resumed run's progress file records (None: a new output)."""
        need_pyarrow()
        self.path = path
        self.parts = Path(path + ".parts")
        if rows_done is not None:
            self._resume(rows_done)
            return
        if self.parts.exists():
            shutil.rmtree(self.parts)
        self.parts.mkdir()

    def _resume(self, rows_done: int) -> None:
        """Keep the parts of the first ``rows_done`` rows, drop any written after them (not yet counted)."""
        import pyarrow.parquet as pq

        progress = state_path(self.path)
        if not self.parts.is_dir():
            raise FileNotFoundError(f"{progress} records {rows_done:,} rows written to {self.parts}, but that folder "
                                    f"is missing; delete {progress} to start again")
        kept = 0
        for part in sorted(self.parts.iterdir()):
            if part.name.startswith("part-") and int(part.stem[len("part-"):]) < rows_done:
                kept += int(pq.ParquetFile(part).metadata.num_rows)
            else:  # a part after the recorded rows, or a temporary file a stopped write left
                part.unlink()
        if kept != rows_done:
            raise ValueError(f"{self.parts} holds {kept:,} rows, not the {rows_done:,} {progress} records (it was "
                             f"changed after the run stopped); delete {self.parts} and {progress} to start again")

    def _part(self, start: int) -> Path:
        return self.parts / f"part-{start:012d}.parquet"

    def write(self, start: int, texts: list[str], vectors: Any) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), int(vectors.shape[1]))
        table = pa.table({"text": pa.array(texts, type=pa.string()), "embedding": embedding})
        tmp = self.parts / f".{start}.tmp"
        try:
            pq.write_table(table, tmp)
            _fsync_file(tmp)
            os.replace(tmp, self._part(start))
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        sync_directory(str(self._part(start)))

    def _join(self, tmp: str) -> None:
        """The parts, in order, as the row groups of one file ``tmp``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for part in sorted(self.parts.glob("part-*.parquet")):
                table = pq.read_table(part)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
        except BaseException:
            if writer is not None:
                with contextlib.suppress(Exception):
                    writer.close()
            raise
        if writer is None:
            schema = pa.schema([("text", pa.string()), ("embedding", pa.list_(pa.float32()))])
            pq.write_table(schema.empty_table(), tmp)
        else:
            writer.close()

    def finish(self) -> None:
        def write(target: str) -> None:
            self._join(target)
            _fsync_file(target)

        replace_durably(self.path + ".tmp", self.path, write)

    def cleanup(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)
