"""The README's main job (examples/search.py) and the `flagcore encode` command, on the real all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flagcore import FlagAutoModel
from flagcore.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_search_example_finds_the_right_passages():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "search.py"), "--top", "1"],
                         capture_output=True, text=True, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    lines = out.stdout.splitlines()
    assert "pooling=mean" in lines[0] and "dim=384" in lines[0]
    top = {lines[i]: lines[i + 1] for i, line in enumerate(lines) if line.startswith("Q: ")}
    assert "Paris is the capital" in top["Q: What is the capital of France?"]
    assert "giant panda" in top["Q: What do pandas eat?"]
    assert "bake bread" in top["Q: How do I make bread at home?"]


def test_encode_command_writes_json_lines_matching_the_api(tiny_models, tmp_path, monkeypatch, capsys):
    texts = ["hello world", "", "second line with more words"]
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    target = tmp_path / "out.jsonl"
    assert main(["encode", str(tiny_models["minilm"]), "-i", str(source), "-o", str(target)]) == 0
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["text"] for r in rows] == texts
    expected = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu").encode_corpus(texts)
    np.testing.assert_allclose(np.array([r["embedding"] for r in rows]), expected, atol=1e-6)


def test_encode_command_reads_stdin_and_writes_npy(tiny_models, tmp_path, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("what is a panda\nhow to bake\n"))
    target = tmp_path / "q.npy"
    assert main(["encode", str(tiny_models["tiny-bert"]), "--model-class", "encoder-only-base", "--queries",
                 "--instruction", "Represent: ", "-o", str(target)]) == 0
    model = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), model_class="encoder-only-base",
                                         devices="cpu", query_instruction_for_retrieval="Represent: ")
    np.testing.assert_allclose(np.load(target), model.encode_queries(["what is a panda", "how to bake"]), atol=1e-6)


@pytest.mark.slow
def test_encode_command_quantize_int8(tiny_models, tmp_path):
    texts = ["what is a panda", "pandas eat bamboo", "bread needs flour, water and yeast"]
    source, target = tmp_path / "texts.txt", tmp_path / "out.npy"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    assert main(["encode", str(tiny_models["minilm"]), "-i", str(source), "-o", str(target), "--quantize", "int8"]) == 0
    quantized = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu", quantize="int8")
    exact = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu").encode_corpus(texts)
    np.testing.assert_allclose(np.load(target), quantized.encode_corpus(texts), atol=1e-6)
    assert not np.allclose(np.load(target), exact, atol=1e-6)  # the option reached the model
    assert (np.load(target) * exact).sum(axis=1).min() > 0.98
