"""The CPU bf16 path (``use_bf16=True``) and CPU detection. ``FLAGCORE_CPU_BF16`` stands in for the CPU's flags,
so both branches run on any machine (on a CPU without native bf16, forcing it on only makes these tiny models slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flagcore import FlagAutoModel, FlagAutoReranker
from flagcore.cli import main
from flagcore.engine.blocks import block_linear_names
from flagcore.engine.cpu import CPU_BF16_ENV, REPORTED_FLAGS, cpu_report, parse_cpuinfo

TEXTS = ["what is a panda?", "The giant panda is a bear species endemic to China.",
         "Paris is the capital of France. " * 20, "tides follow the moon", ""]

X86 = """processor	: 0
model name	: Some Xeon(R) Platinum
flags		: fpu sse sse2 avx avx2 fma f16c avx512f avx512bw avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8
"""
ARM = """processor	: 0
Features	: fp asimd evtstrm aes crc32 asimddp sve i8mm bf16
CPU implementer	: 0x41
"""
OLD_X86 = "model name : Old Core\nflags : fpu sse sse2 avx avx2 fma f16c\n"


def test_cpuinfo_flags_are_read_for_x86_and_arm():
    name, flags = parse_cpuinfo(X86)
    assert name == "Some Xeon(R) Platinum" and {"avx512_bf16", "amx_bf16", "avx512_vnni"} <= flags
    name, flags = parse_cpuinfo(ARM)
    assert name is None and {"bf16", "i8mm", "asimddp"} <= flags
    assert parse_cpuinfo("") == (None, None)


@pytest.mark.parametrize(("text", "bf16", "int8"), [(X86, True, True), (ARM, True, True), (OLD_X86, False, False)])
def test_native_bf16_and_int8_follow_the_flags(monkeypatch, text, bf16, int8):
    monkeypatch.delenv(CPU_BF16_ENV, raising=False)
    monkeypatch.setattr("flagcore.engine.cpu._detected", lambda: parse_cpuinfo(text))
    report = cpu_report()
    assert (report.native_bf16, report.int8_dot, report.bf16_source) == (bf16, int8, "flags")
    assert ("native bf16: yes" in report.describe()) is bf16


def test_the_environment_overrides_the_detection(monkeypatch):
    monkeypatch.setattr("flagcore.engine.cpu._detected", lambda: parse_cpuinfo(OLD_X86))
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    assert cpu_report().native_bf16 and CPU_BF16_ENV in cpu_report().describe()
    monkeypatch.setattr("flagcore.engine.cpu._detected", lambda: parse_cpuinfo(X86))
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert not cpu_report().native_bf16
    monkeypatch.setenv(CPU_BF16_ENV, "yes")
    with pytest.raises(ValueError, match=f"{CPU_BF16_ENV}='yes'.*1.*0"):
        cpu_report()


def _embedder(path, **kwargs):
    return FlagAutoModel.from_finetuned(str(path), devices="cpu", pooling_method="mean", **kwargs)


def test_use_bf16_on_a_bf16_cpu_multiplies_in_bf16_and_pools_in_fp32(monkeypatch, tiny_models):
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    fp32 = _embedder(tiny_models["minilm"])
    bf16 = _embedder(tiny_models["minilm"], use_bf16=True)
    assert (fp32.compute_dtype, bf16.compute_dtype, bf16.cpu_bf16) == ("float32", "bfloat16", True)
    reference, fast = fp32.encode(TEXTS), bf16.encode(TEXTS)
    assert fast.dtype == np.float32 and fast.shape == reference.shape
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-6)  # normalised in fp32
    cosine = (fast * reference).sum(axis=1)
    assert cosine.min() > 0.9999 and not np.array_equal(fast, reference)  # bf16 products, fp32 quality
    blocks = set(block_linear_names(bf16.model))
    assert blocks, "MiniLM's blocks have linear layers"
    for name, parameter in bf16.model.named_parameters():
        in_block_linear = name.rsplit(".", 1)[0] in blocks
        assert parameter.dtype == (torch.bfloat16 if in_block_linear else torch.float32), name
    tensors = bf16.encode(TEXTS, convert_to_numpy=False)
    assert tensors.dtype == torch.float32


def test_use_bf16_by_default_is_off_and_stays_fp32(monkeypatch, tiny_models):
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    model = _embedder(tiny_models["tiny-bert"])
    assert model.compute_dtype == "float32" and not model.cpu_bf16
    model.encode(TEXTS[:2])
    assert {p.dtype for p in model.model.parameters()} == {torch.float32}


def test_use_bf16_without_native_bf16_is_fp32_with_one_notice(monkeypatch, tiny_models):
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    with pytest.warns(UserWarning, match=r"use_bf16=True: this CPU has no native bf16.*computes in fp32") as record:
        model = _embedder(tiny_models["tiny-bert"], use_bf16=True)
    assert len([w for w in record if "native bf16" in str(w.message)]) == 1
    assert model.compute_dtype == "float32"
    np.testing.assert_array_equal(model.encode(TEXTS), _embedder(tiny_models["tiny-bert"]).encode(TEXTS))


def test_int8_and_bf16_together_are_refused(tiny_models):
    with pytest.raises(ValueError, match="quantize='int8' and use_bf16=True are two different fast paths"):
        _embedder(tiny_models["tiny-bert"], use_bf16=True, quantize="int8")


def test_m3_and_rerankers_take_the_bf16_path_too(monkeypatch, tiny_models):
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    pairs = [(TEXTS[0], t) for t in TEXTS[1:]]
    scores = {}
    for bf16 in (False, True):
        reranker = FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu",
                                                   use_bf16=bf16)
        scores[bf16] = np.asarray(reranker.compute_score(pairs))
    assert scores[True].dtype == scores[False].dtype
    np.testing.assert_allclose(scores[True], scores[False], atol=0.05)
    m3 = {bf16: FlagAutoModel.from_finetuned(str(tiny_models["tiny-m3"]), devices="cpu", use_bf16=bf16).encode(
        TEXTS[:3], return_sparse=True, return_colbert_vecs=True) for bf16 in (False, True)}
    assert m3[True]["dense_vecs"].dtype == np.float32
    assert ((m3[True]["dense_vecs"] * m3[False]["dense_vecs"]).sum(axis=1) > 0.999).all()
    for fast, full in zip(m3[True]["colbert_vecs"], m3[False]["colbert_vecs"], strict=True):
        assert fast.dtype == np.float32 and fast.shape == full.shape
    assert [set(w) for w in m3[True]["lexical_weights"]] == [set(w) for w in m3[False]["lexical_weights"]]


def test_the_env_command_reports_the_cpu(monkeypatch, capsys):
    monkeypatch.setenv(CPU_BF16_ENV, "0")
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "native bf16: no" in out and "use_bf16=True" in out and "fp32 (no native bf16 here" in out
    assert main(["env", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["native_bf16"] is False and report["torch"] == torch.__version__
    assert set(report["flags"]) <= set(REPORTED_FLAGS)  # only the deciding flags, whatever this CPU has


def test_the_cli_takes_bf16(monkeypatch, tiny_models, tmp_path, capsys):
    monkeypatch.setenv(CPU_BF16_ENV, "1")
    source = tmp_path / "in.txt"
    source.write_text("\n".join(TEXTS[:4]) + "\n", encoding="utf-8")
    for name, extra in (("fp32.npy", []), ("bf16.npy", ["--bf16"])):
        assert main(["encode", str(tiny_models["minilm"]), "-i", str(source), "-o", str(tmp_path / name),
                     "--pooling-method", "mean", *extra]) == 0
    fp32, bf16 = np.load(tmp_path / "fp32.npy"), np.load(tmp_path / "bf16.npy")
    assert not np.array_equal(fp32, bf16) and ((fp32 * bf16).sum(axis=1) > 0.9999).all()
    assert main(["bench", str(tiny_models["tiny-bert"]), "--texts", "8", "--runs", "1", "--bf16"]) == 0
    assert "bfloat16" in capsys.readouterr().out
