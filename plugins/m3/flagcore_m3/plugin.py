"""The hooks flagcore calls. Light: the model class is registered by reference."""

from __future__ import annotations

from flagcore import Claim, Evidence, hookimpl

MODEL_CLASS = "encoder-only-m3"
HEADS = ("colbert_linear", "sparse_linear")


def has_heads(probe) -> bool:
    return all(probe.has_file(f"{h}.pt") or probe.has_file(f"{h}.safetensors") for h in HEADS)


@hookimpl
def register_model_classes(register):
    register.add_embedder(MODEL_CLASS, "flagcore_m3.embedder:M3Embedder",
                          description="BGE-M3: dense + lexical weights + ColBERT vectors (BGEM3FlagModel)")


@hookimpl
def claim_embedder(probe):
    if probe.name == "bge-m3":
        return Claim(MODEL_CLASS, Evidence.NAME, "'bge-m3' is in FlagEmbedding's embedder table",
                     {"pooling_method": "cls"})
    if probe.is_local and has_heads(probe) and not any(
            a.endswith("ForSequenceClassification") for a in probe.architectures):
        return Claim(MODEL_CLASS, Evidence.ARCHITECTURE + 50,
                     "directory holds the M3 heads colbert_linear and sparse_linear", {"pooling_method": "cls"})
    return None
