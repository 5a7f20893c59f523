"""Which models this family claims, how strongly, and with which defaults.

Names follow FlagEmbedding 1.4.2's tables exactly (query instruction format, whether the model needs its
repository's code). Beyond the names, a local directory whose config.json describes a causal language model is
an LLM embedder with last-token pooling: at architecture strength when a sentence-transformers pooling module
says last-token, as a fallback otherwise. A LoRA adapter folder (``adapter_config.json``) is judged by its base
model; a chain of base models that comes back to a folder already seen (an adapter naming its own folder, two
naming each other) is not claimed, with a ``UserWarning`` saying where it loops. bge-en-icl's config cannot be told
apart from a plain Mistral, so ICL is claimed by name only (by the flagcore-icl family).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

from flagcore.family import (
    Claim,
    Evidence,
    ModelProbe,
    PoolingMethod,
    name_table_claim,
    sentence_transformers_reason,
)

MODEL_CLASS = "decoder-only-base"
PSEUDO_MOE_CLASS = "decoder-only-pseudo_moe"
LAST_TOKEN = PoolingMethod.LAST_TOKEN.value
DEFAULT_QUERY_FORMAT = "Instruct: {}\nQuery: {}"

# config.json model_type values of decoder-only transformers that AutoModel / AutoModelForCausalLM load
DECODER_MODEL_TYPES = frozenset({
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3",
    "gemma3_text", "phi", "phi3", "starcoder2", "olmo", "olmo2", "falcon", "gpt_neox", "stablelm", "cohere",
    "granite", "internlm2", "minicpm", "smollm3",
})


def is_causal_lm(probe: ModelProbe) -> bool:
    return probe.model_type in DECODER_MODEL_TYPES or any(a.endswith("ForCausalLM") for a in probe.architectures)


def adapter_base(probe: ModelProbe) -> ModelProbe | None:
    """The probe of a LoRA adapter folder's base model (as named in ``adapter_config.json``), or None."""
    config = probe.read_json("adapter_config.json")
    base = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    return ModelProbe.from_reference(base) if isinstance(base, str) and base.strip() else None


def loop_message(adapter_folder: str | os.PathLike[str], base: str | os.PathLike[str]) -> str:
    """The adapter in ``adapter_folder`` leads, through base_model_name_or_path, back to ``base``."""
    return (f"the adapter_config.json base model chain loops back to {os.fspath(base)} (from the adapter in "
            f"{os.fspath(adapter_folder)}): base_model_name_or_path must name a model, not an adapter of the chain")


def adapter_chain_loop(probe: ModelProbe) -> tuple[Path, Path] | None:
    """(adapter folder, base folder) where following base_model_name_or_path from ``probe`` comes back to a folder
    already followed; None when the chain ends (in a model, or in anything that is not an adapter folder)."""
    seen: set[str] = set()
    while probe.local_dir is not None and probe.config is None:
        seen.add(os.path.realpath(probe.local_dir))
        base = adapter_base(probe)
        if base is None or base.local_dir is None:
            return None
        if os.path.realpath(base.local_dir) in seen:
            return Path(probe.local_dir), Path(base.local_dir)
        probe = base
    return None


def _through_adapter(probe: ModelProbe, claim_base: Callable[[ModelProbe], Claim | None]) -> Claim | None:
    """The base model's claim on an adapter folder; none, with a warning, when the chain of bases loops."""
    loop = adapter_chain_loop(probe)
    if loop is not None:
        warnings.warn(loop_message(*loop), UserWarning, stacklevel=2)
        return None
    base = adapter_base(probe)
    if base is None:
        return None
    claim = claim_base(base)
    if claim is None:
        return None
    reason = f"LoRA adapter over {base.reference!r}: {claim.reason}"
    return Claim(claim.model_class, claim.score, reason, claim.defaults)


def embedder_claim(probe: ModelProbe) -> Claim | None:
    by_name = name_table_claim(probe, "embedder", MODEL_CLASS)
    if by_name is not None:
        return by_name
    if not probe.is_local:
        return None
    if probe.config is None:
        return _through_adapter(probe, embedder_claim)
    if not is_causal_lm(probe) or probe.is_sequence_classifier:
        return None
    described = sentence_transformers_reason(probe)
    if described is not None:
        return Claim(MODEL_CLASS, Evidence.ARCHITECTURE + 20, f"causal-LM config ({probe.model_type}); {described}",
                     {"query_instruction_format": DEFAULT_QUERY_FORMAT})
    return Claim(MODEL_CLASS, Evidence.FALLBACK + 20,
                 f"causal-LM config ({probe.model_type}, {', '.join(probe.architectures) or 'no architectures'}); "
                 "last-token pooling assumed", {"pooling_method": LAST_TOKEN, "query_instruction_format":
                                                DEFAULT_QUERY_FORMAT})


def reranker_claim(probe: ModelProbe) -> Claim | None:
    by_name = name_table_claim(probe, "reranker", MODEL_CLASS)
    if by_name is not None:
        return by_name
    if not probe.is_local:
        return None
    if probe.config is None:
        return _through_adapter(probe, reranker_claim)
    if not any(a.endswith("ForCausalLM") for a in probe.architectures):
        return None
    return Claim(MODEL_CLASS, Evidence.FALLBACK + 20,
                 f"causal LM ({', '.join(probe.architectures)}): scored by the logit of 'Yes' after the prompt")
