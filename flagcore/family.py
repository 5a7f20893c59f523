"""The public API for family authors: everything a family plugin may use from flagcore.

A family (first-party or not) imports only ``flagcore`` and this module; everything else in the package is
internal and may change. Nothing here imports torch or transformers until a function that needs them runs.

- Base classes and hooks: :class:`AbsEmbedder`, :class:`AbsReranker`, :data:`hookimpl`, :class:`Claim`,
  :class:`Evidence` (score bands; scores lie in ``[0, MAX_SCORE)``). The hook contract is documented on the
  specifications in ``flagcore.hookspecs``.
- What a claim hook sees: :class:`ModelProbe` (``name``, ``config``, ``files``, ``model_type``, ``architectures``,
  ``num_labels``, ``auto_map``, ``has_file``, ``has_any_file``, ``has_m3_heads``, ``is_sequence_classifier``,
  ``read_json``, ``sentence_transformers_pooling``); :data:`M3_HEADS` and :func:`head_files` name the M3 head files.
- FlagEmbedding's name table: :func:`names_for`, :func:`known_model` (a :class:`KnownModel`), :func:`table_defaults`,
  :func:`name_table_claim` (the NAME claim on a name in the table).
- Types: :data:`Kind` / :data:`KINDS` (``"embedder"``, ``"reranker"``), :data:`Columns` (unpadded token columns),
  :class:`PoolingMethod`.
- Loading Hugging Face checkpoints with an explicit dtype: :func:`load_pretrained` (tokenizer and model in one call),
  :func:`check_local_model`, :func:`local_model_folder`, :func:`load_tokenizer`, :func:`load_config`,
  :func:`load_transformer`, :func:`refused_pickle_message` (for a family reading pickled weights itself).
- Pooling and pairs: :func:`pool` (computes every mode of :data:`ALL_POOLING_MODES`: FlagEmbedding's
  :data:`POOLING_METHODS` ``cls``, ``mean``, ``last_token``, the values of :class:`PoolingMethod`, then
  sentence-transformers' ``max``, ``weightedmean``, ``mean_sqrt_len_tokens``), :func:`check_pooling`,
  :class:`PairTemplate`.
- sentence-transformers files: the core applies them to every embedder that implements ``token_embeddings``; a
  claim hook describes them with :func:`sentence_transformers_reason`; :class:`SentenceTransformersFormatError` is
  what a file flagcore cannot honour raises.
- The stages' types: :class:`EmbedWork` / :class:`PairWork` (what ``prepare_*`` makes), :class:`Embeddings` (an
  embedder's typed result; a family with several outputs returns one from ``embed_batch``) and :class:`PairScores`;
  the output names :data:`DENSE`, :data:`SPARSE`, :data:`MULTI_VECTOR`.
- Argument checks with clear messages: :func:`as_texts`, :func:`as_pairs`, :func:`positive_int`,
  :func:`positive_int_or`, :func:`check_bool`, :func:`reject_unknown`, :func:`check_instruction_format`,
  :func:`format_instruction`.
"""

from __future__ import annotations

from .claims import MAX_SCORE, Claim, Evidence
from .embedder import AbsEmbedder
from .engine.devices import accelerators, resolve_devices
from .engine.padding import Columns
from .enums import KINDS, POOLING_METHODS, Kind, PoolingMethod
from .hookspecs import hookimpl
from .inputs import (
    as_pairs,
    as_texts,
    check_bool,
    check_instruction_format,
    format_instruction,
    positive_int,
    positive_int_or,
    reject_unknown,
)
from .known_models import KnownModel, known_model, name_table_claim, names_for, table_defaults
from .loading import (
    TOKENIZER_FILES,
    WEIGHT_FILES,
    check_local_model,
    load_config,
    load_pretrained,
    load_tokenizer,
    load_transformer,
    local_model_folder,
    refused_pickle_message,
)
from .outputs import (
    DENSE,
    MULTI_VECTOR,
    OUTPUT_KINDS,
    SPARSE,
    TOKEN_EMBEDDINGS,
    Embeddings,
    EmbedWork,
    PairScores,
    PairWork,
    Work,
)
from .pairs import PairTemplate
from .pooling import ALL_POOLING_MODES, check_pooling, pool
from .probe import M3_HEADS, ModelProbe, head_files
from .reranker import AbsReranker
from .st.description import SentenceTransformersFormatError
from .st.description import claim_reason as sentence_transformers_reason

__all__ = [
    "ALL_POOLING_MODES",
    "DENSE",
    "KINDS",
    "MULTI_VECTOR",
    "OUTPUT_KINDS",
    "SPARSE",
    "TOKEN_EMBEDDINGS",
    "EmbedWork",
    "Embeddings",
    "PairScores",
    "PairWork",
    "Work",
    "M3_HEADS",
    "MAX_SCORE",
    "POOLING_METHODS",
    "TOKENIZER_FILES",
    "SentenceTransformersFormatError",
    "WEIGHT_FILES",
    "AbsEmbedder",
    "AbsReranker",
    "Claim",
    "Columns",
    "Evidence",
    "Kind",
    "KnownModel",
    "ModelProbe",
    "PairTemplate",
    "PoolingMethod",
    "accelerators",
    "as_pairs",
    "as_texts",
    "check_instruction_format",
    "check_local_model",
    "check_pooling",
    "check_bool",
    "format_instruction",
    "head_files",
    "hookimpl",
    "known_model",
    "load_config",
    "load_transformer",
    "load_pretrained",
    "load_tokenizer",
    "local_model_folder",
    "refused_pickle_message",
    "name_table_claim",
    "names_for",
    "pool",
    "positive_int",
    "positive_int_or",
    "reject_unknown",
    "resolve_devices",
    "sentence_transformers_reason",
    "table_defaults",
]
