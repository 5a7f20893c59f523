"""Loading a decoder checkpoint for this family: a model directory or hub id, a LoRA adapter folder (loaded over its
base model and merged), and an optional extra adapter (``peft_path``) merged on top.

PEFT is needed only for adapters; it is an optional dependency (``pip install 'flagcore-llm[peft]'``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flagcore.family import TOKENIZER_FILES, ModelProbe, load_pretrained, load_tokenizer, load_transformer

from .claims import adapter_chain_loop, loop_message

ADAPTER_CONFIG = "adapter_config.json"


def adapter_config(path: str | os.PathLike[str]) -> dict | None:
    """The adapter_config.json of a LoRA adapter folder (one without its own config.json), else None."""
    folder = Path(os.path.expanduser(os.fspath(path)))
    if not (folder / ADAPTER_CONFIG).is_file() or (folder / "config.json").is_file():
        return None
    with open(folder / ADAPTER_CONFIG, encoding="utf-8") as fh:
        config = json.load(fh)
    if not isinstance(config, dict) or not isinstance(config.get("base_model_name_or_path"), str):
        raise ValueError(f"{folder / ADAPTER_CONFIG} does not name its base model (base_model_name_or_path)")
    return config


def check_base_chain(folder: Path) -> None:
    """Refuse an adapter whose base model chain comes back to a folder already followed (its own folder, or an
    adapter naming it back): it names no model to load."""
    loop = adapter_chain_loop(ModelProbe.from_reference(os.fspath(folder)))
    if loop is not None:
        raise ValueError(loop_message(*loop))


def merge_adapter(model: Any, adapter_path: str | os.PathLike[str]) -> Any:
    """``model`` with the LoRA adapter at ``adapter_path`` merged into its weights."""
    try:
        from peft import PeftModel
    except ImportError:
        raise ImportError(
            f"{adapter_path} is a LoRA adapter; merging it needs the optional dependency peft: "
            "pip install 'flagcore-llm[peft]' (or pip install peft)") from None
    return PeftModel.from_pretrained(model, os.fspath(adapter_path)).merge_and_unload()


def load_decoder(owner: Any, auto_class_name: str, peft_path: str | None = None) -> tuple[Any, Any]:
    """``(tokenizer, model)`` for ``owner.model_name_or_path`` with the owner's dtype and remote-code setting.

    ``auto_class_name`` is ``"AutoModel"`` (hidden states, for embedders) or ``"AutoModelForCausalLM"``
    (logits, for rerankers). An adapter trained on a causal LM is merged into the causal LM first and, for an
    embedder, its decoder stack is kept.
    """
    adapter = adapter_config(owner.model_name_or_path)
    if adapter is None:
        tokenizer, model = load_pretrained(owner, auto_class_name)
    else:
        tokenizer, model = _load_through_adapter(owner, auto_class_name, adapter)
    if peft_path is not None:
        model = merge_adapter(model, peft_path)
    return tokenizer, model


def _load_through_adapter(owner: Any, auto_class_name: str, adapter: dict) -> tuple[Any, Any]:
    folder = Path(os.path.expanduser(owner.model_name_or_path))
    base = adapter["base_model_name_or_path"]
    check_base_chain(folder)
    causal = adapter.get("task_type") == "CAUSAL_LM"
    if auto_class_name == "AutoModelForCausalLM" and not causal:
        raise ValueError(f"{folder} is a {adapter.get('task_type') or 'feature-extraction'} adapter; a reranker needs "
                         "one trained on a causal LM (task_type CAUSAL_LM)")
    options = {"trust_remote_code": owner.trust_remote_code, "cache_dir": owner.cache_dir}
    model = load_transformer("AutoModelForCausalLM" if causal else "AutoModel", base, dtype=owner.torch_dtype,
                             **options)
    model = merge_adapter(model, folder)
    if causal and auto_class_name == "AutoModel":
        model = model.get_decoder()
    has_tokenizer = any((folder / name).is_file() for name in TOKENIZER_FILES)
    tokenizer = load_tokenizer(str(folder) if has_tokenizer else base, **options)
    return tokenizer, model


def declared_eos_lost(tokenizer: Any, model_path: str | os.PathLike[str]) -> bool:
    """True when the model's tokenizer_config.json asks for an EOS after every text (``add_eos_token: true``, as
    e5-mistral and SFR-Embedding-Mistral do) but the loaded tokenizer does not append it (transformers 5 drops that
    flag for Llama/Mistral tokenizers; transformers 4 honoured it, which is how these models were trained and how
    FlagEmbedding 1.4.2 runs them)."""
    folder = Path(os.path.expanduser(os.fspath(model_path)))
    try:
        with open(folder / "tokenizer_config.json", encoding="utf-8") as fh:
            wanted = json.load(fh).get("add_eos_token") is True
    except (OSError, ValueError, AttributeError):
        return False
    eos = tokenizer.eos_token_id
    if not wanted or eos is None:
        return False
    return tokenizer("a")["input_ids"][-1:] != [eos]
