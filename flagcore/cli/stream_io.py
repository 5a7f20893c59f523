"""Where ``flagcore encode`` reads texts and writes embeddings, chunk by chunk: text lines, JSON lines or a Parquet
column in; ``.npy`` (through a memory map), JSON lines or Parquet out. Parquet needs pyarrow (an optional
dependency: the error names it)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from itertools import islice
from pathlib import Path
from typing import Any, Iterator

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
        raise ImportError("reading or writing Parquet needs pyarrow: pip install pyarrow (or 'flagcore[ray]', which "
                          "brings it)") from exc
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
class Sink:
    """Writes chunks of rows at known positions; ``state()`` is what a resumed run needs to go on."""

    def write(self, start: int, texts: list[str], vectors: Any) -> None:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {}

    def finish(self) -> None:
        """Make the output complete (the last rows durable, parts joined)."""


class NpySink(Sink):
    """A ``(total, d)`` float32 ``.npy`` written through a memory map of one chunk's rows at a time (a map of the
    whole file would keep every written page in the process's resident set): resuming reopens it and writes from the
    first row not done."""

    def __init__(self, path: str, total: int, resume: bool) -> None:
        self.path, self.total, self.resume = path, total, resume
        self.offset: int | None = None  # bytes before the first row (the .npy header)

    def _open(self, width: int) -> int:
        import numpy as np

        if not (self.resume and os.path.exists(self.path)):
            created = np.lib.format.open_memmap(self.path, mode="w+", dtype=np.float32, shape=(self.total, width))
            del created
        with open(self.path, "rb") as f:
            major, _ = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
            offset = f.tell()
        if tuple(shape) != (self.total, width) or dtype != np.float32:
            raise ValueError(f"{self.path} is {tuple(shape)} {dtype}, not ({self.total}, {width}) float32: it is not "
                             "this run's output; delete it and its .progress.json to start again")
        return offset

    def write(self, start: int, texts: list[str], vectors: Any) -> None:
        import numpy as np

        width = int(vectors.shape[1])
        if self.offset is None:
            self.offset = self._open(width)
        rows = np.memmap(self.path, dtype=np.float32, mode="r+", offset=self.offset + start * width * 4,
                         shape=(len(vectors), width))
        rows[:] = vectors
        rows.flush()
        del rows

    def finish(self, width: int | None = None) -> None:
        import numpy as np

        if self.offset is None and not os.path.exists(self.path):  # an empty input
            np.save(self.path, np.zeros((self.total, width or 0), dtype=np.float32))


class JsonlSink(Sink):
    """``{"text", "embedding"}`` per line, to a file (resuming truncates it to the bytes of the complete chunks) or to
    stdout."""

    def __init__(self, path: str, resume_state: dict[str, Any] | None) -> None:
        self.path = path
        if path == "-":
            self.stream = sys.stdout
        elif resume_state is not None and os.path.exists(path):
            self.stream = open(path, "r+", encoding="utf-8")
            self.stream.seek(int(resume_state.get("bytes", 0)))
            self.stream.truncate()
        else:
            self.stream = open(path, "w", encoding="utf-8")

    def write(self, start: int, texts: list[str], vectors: Any) -> None:
        lines = [json.dumps({"text": text, "embedding": [float(x) for x in vector]}, ensure_ascii=False) + "\n"
                 for text, vector in zip(texts, vectors, strict=True)]
        self.stream.write("".join(lines))
        self.stream.flush()
        if self.stream is not sys.stdout:
            os.fsync(self.stream.fileno())

    def state(self) -> dict[str, Any]:
        return {"bytes": self.stream.tell()} if self.stream is not sys.stdout else {}

    def finish(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


class ParquetSink(Sink):
    """Columns ``text`` and ``embedding`` (fixed-size list of float32). Each chunk is one part file (written, then
    renamed into ``OUT.parts/``); the parts become the row groups of ``OUT`` at the end, so a crash leaves whole
    parts only."""

    def __init__(self, path: str, resume: bool) -> None:
        need_pyarrow()
        self.path = path
        self.parts = Path(path + ".parts")
        if not resume and self.parts.exists():
            shutil.rmtree(self.parts)
        self.parts.mkdir(exist_ok=True)

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
        pq.write_table(table, tmp)
        os.replace(tmp, self._part(start))

    def finish(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = sorted(self.parts.glob("part-*.parquet"))
        tmp = self.path + ".tmp"
        writer = None
        for part in parts:
            table = pq.read_table(part)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
        if writer is None:
            schema = pa.schema([("text", pa.string()), ("embedding", pa.list_(pa.float32()))])
            pq.write_table(schema.empty_table(), tmp)
        else:
            writer.close()
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts)
