"""Which models this family claims, how strongly, and with which defaults.

Names follow FlagEmbedding 1.4.2's tables exactly (pooling, query instruction format, whether the model needs its
repository's code: read with :func:`flagcore.family.table_defaults`). Beyond the names, local directories are
recognised from config.json and their sentence-transformers files.
"""

from __future__ import annotations

from flagcore.family import (
    Claim,
    Evidence,
    ModelProbe,
    PoolingMethod,
    name_table_claim,
    sentence_transformers_reason,
)

MODEL_CLASS = "encoder-only-base"

# config.json model_type values of encoder-only transformers that AutoModel / AutoModelForSequenceClassification load
ENCODER_MODEL_TYPES = frozenset({
    "bert", "roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "distilbert", "electra", "mpnet",
    "deberta", "deberta-v2", "albert", "ernie", "nezha", "modernbert", "megatron-bert", "luke", "xlm",
    "new", "nomic_bert", "jina_bert", "bert-generation", "roformer", "esm",
})
SUPPORTED_POOLING = (PoolingMethod.CLS.value, PoolingMethod.MEAN.value)


def _is_encoder(probe: ModelProbe) -> bool:
    return probe.model_type in ENCODER_MODEL_TYPES


def _remote_code_defaults(probe: ModelProbe) -> dict:
    return {"trust_remote_code": True} if probe.auto_map else {}


def embedder_claim(probe: ModelProbe) -> Claim | None:
    by_name = name_table_claim(probe, "embedder", MODEL_CLASS)
    if by_name is not None:
        return by_name
    if not probe.is_local or not _is_encoder(probe) or probe.is_sequence_classifier:
        return None
    defaults = _remote_code_defaults(probe)
    described = sentence_transformers_reason(probe)
    if described is None:
        described = "cls pooling (no sentence-transformers files, BGE default)"
    if probe.has_m3_heads():
        return Claim(MODEL_CLASS, Evidence.ARCHITECTURE,
                     f"encoder config ({probe.model_type}) with M3 head files; dense output only, "
                     f"the M3 family claims it higher; {described}", defaults)
    return Claim(MODEL_CLASS, Evidence.ARCHITECTURE + 10,
                 f"encoder config ({probe.model_type}, {', '.join(probe.architectures) or 'no architectures'}); "
                 f"{described}", defaults)


def reranker_claim(probe: ModelProbe) -> Claim | None:
    by_name = name_table_claim(probe, "reranker", MODEL_CLASS)
    if by_name is not None:
        return by_name
    if not probe.is_local or not _is_encoder(probe) or not probe.is_sequence_classifier:
        return None
    if probe.num_labels != 1:
        return None  # several labels (transformers' default is 2) is a classifier, not a relevance scorer
    return Claim(MODEL_CLASS, Evidence.ARCHITECTURE + 10,
                 f"{', '.join(probe.architectures)} with one label: a cross-encoder",
                 _remote_code_defaults(probe))
