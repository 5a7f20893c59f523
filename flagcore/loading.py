"""Loading Hugging Face tokenizers, configs and models for the families, with errors that name what is
missing. transformers is imported only when one of these functions runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

WEIGHT_FILES = (
    "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json",
)
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "sentencepiece.bpe.model", "spiece.model", "vocab.json",
                   "tokenizer.model")


def check_local_model(path: str) -> None:
    """For a local directory, fail early naming the missing file instead of deep inside transformers."""
    folder = Path(os.path.expanduser(path))
    if not folder.is_dir():
        return  # a hub id: transformers resolves it (from the local cache, or the hub if allowed)
    present = {p.name for p in folder.iterdir()}
    if "config.json" not in present:
        raise FileNotFoundError(f"{folder} has no config.json; a model directory needs config.json, weights "
                                "and tokenizer files (as written by save_pretrained)")
    if not present.intersection(WEIGHT_FILES):
        raise FileNotFoundError(f"{folder} has no weights: expected one of {', '.join(WEIGHT_FILES)}")
    if not present.intersection(TOKENIZER_FILES):
        raise FileNotFoundError(f"{folder} has no tokenizer files: expected one of {', '.join(TOKENIZER_FILES)}")


def local_model_folder(reference: str, cache_dir: str | None) -> Path:
    """The local folder of a model. A hub id is looked up in the Hugging Face cache, and downloaded into it
    only when ``HF_HUB_OFFLINE`` is not set (as ``from_pretrained`` would)."""
    path = Path(os.path.expanduser(reference))
    if path.is_dir():
        return path
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(repo_id=reference, cache_dir=cache_dir, ignore_patterns=[
        "flax_model.msgpack", "rust_model.ot", "tf_model.h5", "onnx/*", "*.onnx"]))


def load_tokenizer(path: str, *, trust_remote_code: bool, cache_dir: str | None) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code, cache_dir=cache_dir)


def load_config(path: str, *, trust_remote_code: bool, cache_dir: str | None) -> Any:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code, cache_dir=cache_dir)


def load_encoder(auto_class_name: str, path: str, *, dtype: Any, trust_remote_code: bool,
                 cache_dir: str | None, **extra: Any) -> Any:
    """``AutoModel`` / ``AutoModelForSequenceClassification`` with an explicit dtype (transformers 5 would
    otherwise keep the checkpoint's dtype, e.g. fp16 weights on a CPU)."""
    import transformers

    auto_class = getattr(transformers, auto_class_name)
    folder = Path(os.path.expanduser(path))
    use_safetensors = True if (folder / "model.safetensors").exists() or (
        folder / "model.safetensors.index.json").exists() else None
    return auto_class.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code, cache_dir=cache_dir,
                                      use_safetensors=use_safetensors, **extra)


def load_pretrained(owner: Any, auto_class_name: str, path: str | os.PathLike[str] | None = None,
                    **extra: Any) -> tuple[Any, Any]:
    """``(tokenizer, model)`` of a checkpoint for a family's ``__init__``: the missing-file check, then the
    tokenizer and ``transformers.<auto_class_name>`` loaded with the owner's dtype, ``trust_remote_code`` and
    ``cache_dir``. ``path`` defaults to ``owner.model_name_or_path``."""
    where = os.fspath(path) if path is not None else owner.model_name_or_path
    check_local_model(where)
    options = {"trust_remote_code": owner.trust_remote_code, "cache_dir": owner.cache_dir}
    tokenizer = load_tokenizer(where, **options)
    model = load_encoder(auto_class_name, where, dtype=owner.torch_dtype, **options, **extra)
    return tokenizer, model
