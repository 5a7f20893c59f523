"""`flagcore encode` streaming: text / JSON lines / Parquet in, .npy / JSON lines / Parquet out, resume after a crash
(an exception in-process, a SIGKILL in a subprocess) giving a file identical to an uninterrupted run, and peak RSS
bounded by the chunk size for 200,000 texts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from flagcore import FlagAutoModel
from flagcore.cli import main, stream_io

TESTS = Path(__file__).parent
TEXTS = [f"row {i}: " + "the quick brown fox " * (1 + i % 5) for i in range(230)]


@pytest.fixture(scope="module")
def model_dir(tiny_models):
    return str(tiny_models["tiny-bert"])


@pytest.fixture(scope="module")
def expected(model_dir):
    return FlagAutoModel.from_finetuned(model_dir, model_class="encoder-only-base", devices="cpu").encode_corpus(TEXTS)


def encode(model_dir, *args):
    return main(["encode", model_dir, "--model-class", "encoder-only-base", *args])


def write_text(path, texts=TEXTS):
    path.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return path


def test_text_to_npy_in_chunks_equals_one_call(model_dir, expected, tmp_path):
    out = tmp_path / "out.npy"
    assert encode(model_dir, "-i", str(write_text(tmp_path / "in.txt")), "-o", str(out), "--chunk-size", "50") == 0
    np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
    assert not (tmp_path / "out.npy.progress.json").exists()  # removed once complete


def test_json_lines_column_to_parquet(model_dir, expected, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": i, "body": t}) + "\n" for i, t in enumerate(TEXTS)), encoding="utf-8")
    out = tmp_path / "out.parquet"
    assert encode(model_dir, "-i", str(source), "--column", "body", "-o", str(out), "--chunk-size", "64") == 0
    table = pq.read_table(out)
    assert table.column("text").to_pylist() == TEXTS
    np.testing.assert_allclose(np.stack(table.column("embedding").to_numpy(zero_copy_only=False)), expected,
                               atol=1e-6)
    assert not (tmp_path / "out.parquet.parts").exists()


def test_parquet_column_to_json_lines(model_dir, expected, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": list(range(len(TEXTS))), "text": TEXTS}), source, row_group_size=40)
    out = tmp_path / "out.jsonl"
    assert encode(model_dir, "-i", str(source), "-o", str(out), "--chunk-size", "64") == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == TEXTS
    np.testing.assert_allclose(np.array([r["embedding"] for r in rows]), expected, atol=1e-5)


def test_a_missing_column_is_named(model_dir, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"body": "x"}) + "\n", encoding="utf-8")
    assert encode(model_dir, "-i", str(source), "-o", str(tmp_path / "o.npy")) == 1
    assert "'text' field" in capsys.readouterr().err


def test_parquet_without_pyarrow_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        stream_io.need_pyarrow()


class Crash(RuntimeError):
    pass


def crash_after(monkeypatch, sink_class, chunks):
    original = sink_class.write
    calls = []

    def write(self, start, texts, vectors):
        if len(calls) == chunks:
            raise Crash("simulated crash")
        calls.append(start)
        return original(self, start, texts, vectors)

    monkeypatch.setattr(sink_class, "write", write)


@pytest.mark.parametrize("suffix, sink", [(".npy", stream_io.NpySink), (".jsonl", stream_io.JsonlSink),
                                          (".parquet", stream_io.ParquetSink)])
def test_resume_after_a_crash_gives_the_uninterrupted_file(model_dir, tmp_path, monkeypatch, suffix, sink):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    source = write_text(tmp_path / "in.txt")
    whole, resumed = tmp_path / f"whole{suffix}", tmp_path / f"resumed{suffix}"
    assert encode(model_dir, "-i", str(source), "-o", str(whole), "--chunk-size", "40") == 0
    with monkeypatch.context() as patch:
        crash_after(patch, sink, 3)
        assert encode(model_dir, "-i", str(source), "-o", str(resumed), "--chunk-size", "40") == 1
    state = json.loads((tmp_path / f"resumed{suffix}.progress.json").read_text())
    assert state["rows_done"] == 120
    assert encode(model_dir, "-i", str(source), "-o", str(resumed), "--chunk-size", "40") == 0
    assert resumed.read_bytes() == whole.read_bytes()
    assert not (tmp_path / f"resumed{suffix}.progress.json").exists()


def test_resume_refuses_another_input_or_settings(model_dir, tmp_path, monkeypatch, capsys):
    source = write_text(tmp_path / "in.txt")
    out = tmp_path / "out.npy"
    with monkeypatch.context() as patch:
        crash_after(patch, stream_io.NpySink, 1)
        assert encode(model_dir, "-i", str(source), "-o", str(out), "--chunk-size", "40") == 1
    capsys.readouterr()
    assert encode(model_dir, "-i", str(source), "-o", str(out), "--chunk-size", "40", "--queries") == 1
    assert "settings differ" in capsys.readouterr().err
    write_text(source, TEXTS[::-1])
    assert encode(model_dir, "-i", str(source), "-o", str(out), "--chunk-size", "40") == 1
    assert "input differ" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_after_sigkill(model_dir, tmp_path):
    texts = [f"line {i} about pandas and bamboo" for i in range(5000)]
    source = write_text(tmp_path / "in.txt", texts)
    out, whole = tmp_path / "out.npy", tmp_path / "whole.npy"
    command = [sys.executable, "-m", "flagcore", "encode", model_dir, "--model-class", "encoder-only-base",
               "-i", str(source), "--chunk-size", "250"]
    state = tmp_path / "out.npy.progress.json"
    child = subprocess.Popen([*command, "-o", str(out)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if state.exists() and json.loads(state.read_text())["rows_done"] >= 750:
            break
        time.sleep(0.05)
    assert child.poll() is None, "the run finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = json.loads(state.read_text())["rows_done"]
    assert 0 < done < len(texts)
    subprocess.run([*command, "-o", str(out)], check=True, stderr=subprocess.DEVNULL)
    subprocess.run([*command, "-o", str(whole)], check=True, stderr=subprocess.DEVNULL)
    assert out.read_bytes() == whole.read_bytes() and not state.exists()


PEAK = """
import sys
sys.path.insert(0, {tests!r})
from fakes import FakeFamily
from flagcore import FlagAutoModel, plugin_registered
from flagcore.cli import main
with plugin_registered(FakeFamily()):
    if sys.argv[1] == "in-memory":
        import numpy as np
        texts = open(sys.argv[2], encoding="utf-8").read().splitlines()
        model = FlagAutoModel.from_finetuned("fake-model", devices="cpu")
        np.save(sys.argv[3], model.encode_corpus(texts, show_progress_bar=False))
    else:
        assert main(["encode", "fake-model", "-i", sys.argv[2], "-o", sys.argv[3]]) == 0
# VmHWM, not getrusage: ru_maxrss survives fork and exec, so a child would report the pytest process's peak
print([int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""


def peak_rss(tmp_path, how, source, out):
    env = {**os.environ, "FLAGCORE_LOAD_PLUGINS": ""}
    done = subprocess.run([sys.executable, "-c", PEAK.format(tests=str(TESTS)), how, str(source), str(out)],
                          capture_output=True, text=True, env=env, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.slow
def test_200k_texts_stream_to_npy_under_a_fixed_peak_rss(tmp_path):
    small = write_text(tmp_path / "small.txt", [f"text {i} about item {i % 977}" for i in range(2000)])
    big = write_text(tmp_path / "big.txt", [f"text {i} about item {i % 977}" for i in range(200_000)])
    base = peak_rss(tmp_path, "stream", small, tmp_path / "small.npy")  # interpreter, torch, model, one chunk
    streamed = peak_rss(tmp_path, "stream", big, tmp_path / "big.npy")
    in_memory = peak_rss(tmp_path, "in-memory", big, tmp_path / "memory.npy")
    mib = 1 << 20
    print(f"peak RSS: 2k streamed {base / mib:.0f} MiB, 200k streamed {streamed / mib:.0f} MiB, "
          f"200k in memory {in_memory / mib:.0f} MiB")
    assert streamed < base + 48 * mib  # a fixed bound: a few chunks in flight, whatever the corpus
    assert in_memory - base > 3 * (streamed - base)  # holding every text, token row and vector costs far more
    assert np.load(tmp_path / "big.npy").shape == (200_000, 8)
    assert (tmp_path / "big.npy").read_bytes() == (tmp_path / "memory.npy").read_bytes()


def test_a_finished_output_is_refused_unless_overwrite(tmp_path):
    import subprocess
    import sys

    from parity.tiny_models import minilm_dir

    source, out = tmp_path / "in.txt", tmp_path / "out.jsonl"
    source.write_text("one\ntwo\n", encoding="utf-8")
    command = [sys.executable, "-m", "flagcore", "encode", str(minilm_dir()), "--devices", "cpu", "-i", str(source),
               "-o", str(out)]
    assert subprocess.run(command, capture_output=True, timeout=300).returncode == 0
    finished = out.read_bytes()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "already exists and is complete" in again.stderr and "--overwrite" in again.stderr
    assert out.read_bytes() == finished
    assert subprocess.run([*command, "--overwrite"], capture_output=True, timeout=300).returncode == 0
    assert out.read_bytes() == finished
