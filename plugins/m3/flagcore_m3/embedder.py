"""M3Embedder (``encoder-only-m3``): FlagEmbedding's BGEM3FlagModel on the shared machinery.

One forward pass of the XLM-R backbone gives all three outputs:

- dense: pooled hidden state (CLS by default) → ``truncate_dim`` → L2-normalised;
- lexical weights: ``relu(sparse_linear(h))`` per token, keyed by ``str(token_id)``, the max over repeats, special
  tokens (cls/eos/pad/unk) and zero weights dropped, values plain Python floats;
- ColBERT: ``colbert_linear(h[:, 1:])`` for the real tokens (CLS and padding dropped) → ``truncate_dim`` →
  L2-normalised.
"""

from __future__ import annotations

from typing import Any, Mapping

from flagcore.family import (
    DENSE,
    MULTI_VECTOR,
    POOLING_METHODS,
    SPARSE,
    AbsEmbedder,
    Embeddings,
    EmbedWork,
    as_pairs,
    head_files,
    load_pretrained,
    local_model_folder,
    pool,
    positive_int_or,
)

from . import scoring
from .heads import load_head

MODES = ("return_dense", "return_sparse", "return_colbert_vecs")
#: the output each of MODES switches on
OUTPUT_OF_MODE = (DENSE, SPARSE, MULTI_VECTOR)
#: FlagEmbedding's dict keys for the outputs, in the same order (made at the public API's edge only)
OUTPUT_KINDS_IN_ORDER = OUTPUT_OF_MODE
FLAGEMBEDDING_KEYS = ("dense_vecs", "lexical_weights", "colbert_vecs")


def _m3_module(backbone: Any, colbert_linear: Any, sparse_linear: Any) -> Any:
    import torch

    class M3Model(torch.nn.Module):
        """The backbone and its two heads, moved and cast together."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone
            self.colbert_linear = colbert_linear
            self.sparse_linear = sparse_linear
            self.config = backbone.config

    return M3Model()


class M3Embedder(AbsEmbedder):
    """BGE-M3: dense vectors, lexical weights and ColBERT vectors, and their combined scores."""

    call_options = frozenset(MODES)
    backends = ("torch", "openvino")
    backbone_path = "model.backbone"  # the sparse and ColBERT heads stay in torch

    pooling_methods = POOLING_METHODS
    default_pooling_method = "cls"

    def __init__(self, model_name_or_path: str, colbert_dim: int = -1,
                 return_dense: bool = True, return_sparse: bool = False, return_colbert_vecs: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.return_dense, self.return_sparse = bool(return_dense), bool(return_sparse)
        self.return_colbert_vecs = bool(return_colbert_vecs)
        self.model_folder = local_model_folder(self.model_name_or_path, self.cache_dir)
        self.tokenizer, backbone = load_pretrained(self, "AutoModel", self.model_folder)
        hidden = backbone.config.hidden_size
        colbert = load_head(self.model_folder, "colbert_linear", in_features=hidden,
                            out_features=colbert_dim if colbert_dim > 0 else None, dtype=self.torch_dtype)
        sparse = load_head(self.model_folder, "sparse_linear", in_features=hidden, out_features=1,
                           dtype=self.torch_dtype)
        self.model = _m3_module(backbone, colbert, sparse)
        specials = self.tokenizer.special_tokens_map
        self.skipped_token_ids = frozenset(
            self.tokenizer.convert_tokens_to_ids(specials[name])
            for name in ("cls_token", "eos_token", "pad_token", "unk_token") if name in specials
        )
        self._modes(None, None, None)  # constructor defaults that need a missing head fail now, not later

    # -- which outputs ---------------------------------------------------------------------------------------------
    @property
    def available_outputs(self) -> frozenset[str]:
        """Dense vectors always; lexical weights and ColBERT vectors where their head files are present."""
        heads = ((SPARSE, self.model.sparse_linear), (MULTI_VECTOR, self.model.colbert_linear))
        return frozenset({DENSE, *(kind for kind, head in heads if head is not None)})

    def outputs_for_options(self, options: Mapping[str, Any]) -> frozenset[str]:
        modes = self._modes(*(options.get(mode) for mode in MODES))
        return frozenset(kind for kind, mode in zip(OUTPUT_OF_MODE, MODES, strict=True) if modes[mode])

    def options_for_outputs(self, outputs: frozenset[str]) -> dict[str, Any]:
        return {mode: kind in outputs for kind, mode in zip(OUTPUT_OF_MODE, MODES, strict=True)}

    def _modes(self, dense: bool | None, sparse: bool | None, colbert: bool | None) -> dict[str, bool]:
        modes = {
            "return_dense": self.return_dense if dense is None else bool(dense),
            "return_sparse": self.return_sparse if sparse is None else bool(sparse),
            "return_colbert_vecs": self.return_colbert_vecs if colbert is None else bool(colbert),
        }
        if not any(modes.values()):
            raise ValueError("return_dense, return_sparse and return_colbert_vecs are all False: ask for at least "
                             "one output")
        for mode, head, what in (("return_sparse", "sparse_linear", "sparse (lexical) weights"),
                                 ("return_colbert_vecs", "colbert_linear", "ColBERT vectors")):
            if modes[mode] and getattr(self.model, head) is None:
                raise FileNotFoundError(
                    f"{what} need the head file {' or '.join(head_files(head))} in {self.model_folder}, which is "
                    f"missing; dense output works without it (pass {mode}=False)")
        return modes

    # -- one batch -------------------------------------------------------------------------
    def embed_batch(self, batch: dict[str, Any], return_dense: bool = True, return_sparse: bool = False,
                    return_colbert_vecs: bool = False, **options: Any) -> Embeddings:
        import torch

        hidden = self.model.backbone(**batch, return_dict=True).last_hidden_state
        mask = batch["attention_mask"]
        out = Embeddings()
        if return_dense:
            out.dense = pool(hidden, mask, self.pooling_method)
        if return_sparse:
            weights = torch.relu(self.model.sparse_linear(hidden)).squeeze(-1).float().cpu().tolist()
            ids = batch["input_ids"].cpu().tolist()
            out.sparse = [self._lexical_weights(w, i) for w, i in zip(weights, ids, strict=True)]
        if return_colbert_vecs:
            out.multi_vector = self._colbert_vectors(hidden, mask)
        return out

    def _colbert_vectors(self, hidden: Any, mask: Any) -> list[Any]:
        """Per row, the ColBERT vectors of its real tokens (CLS and padding dropped), as numpy arrays."""
        import torch

        vectors = self.model.colbert_linear(hidden[:, 1:]) * mask[:, 1:, None].float()
        if self.truncate_dim is not None:
            vectors = vectors[..., : self.truncate_dim]
        if self.normalize_embeddings:
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        keep = mask[:, 1:].bool().cpu().numpy()
        vectors = vectors.float().cpu().numpy()  # numpy has no bfloat16
        return [vectors[i][keep[i]] for i in range(len(vectors))]

    def _lexical_weights(self, weights: list[float], ids: list[int]) -> dict[str, float]:
        result: dict[str, float] = {}
        skipped = self.skipped_token_ids
        for weight, token in zip(weights, ids, strict=True):
            if token in skipped or weight <= 0:
                continue
            key = str(token)
            if weight > result.get(key, 0.0):
                result[key] = weight
        return result

    def present(self, work: EmbedWork, result: Embeddings) -> dict[str, Any]:
        """FlagEmbedding's dict: ``{"dense_vecs", "lexical_weights", "colbert_vecs"}``, None for outputs not asked
        for, single items for a single string."""
        def part(kind: str) -> Any:
            rows = result.output(kind)
            if kind not in work.outputs:
                return None
            return rows[0] if work.single else rows

        return {key: part(kind) for kind, key in zip(OUTPUT_KINDS_IN_ORDER, FLAGEMBEDDING_KEYS, strict=True)}

    # -- scores ----------------------------------------------------------------------------
    def compute_score(self, sentence_pairs: Any, batch_size: int | None = None, max_query_length: int | None = None,
                      max_passage_length: int | None = None, weights_for_different_modes: Any = None,
                      **kwargs: Any) -> dict[str, Any]:
        """Dense, lexical and ColBERT scores of (query, passage) pairs and their weighted mixes.

        ``weights_for_different_modes`` is ``[dense, sparse, colbert]`` (default ``[1, 1, 1]``). One pair → floats;
        a list of pairs → lists. Padding never takes part in the ColBERT score.
        """
        pairs, single = as_pairs(sentence_pairs)
        weights = scoring.check_weights(weights_for_different_modes)
        if not pairs:
            return {key: [] for key in ("colbert", "sparse", "dense", "sparse+dense", "colbert+sparse+dense")}
        # None means the model's limit; 0 is refused like any other limit
        query_limit = positive_int_or(max_query_length, self.query_max_length, "max_query_length")
        passage_limit = positive_int_or(max_passage_length, self.passage_max_length, "max_passage_length")
        everything: dict[str, Any] = {"return_dense": True, "return_sparse": True, "return_colbert_vecs": True}
        sides = []
        for texts, limit in (([q for q, _ in pairs], query_limit), ([p for _, p in pairs], passage_limit)):
            unique = list(dict.fromkeys(texts))
            encoded = self.encode(unique, batch_size=batch_size, max_length=limit, **everything, **kwargs)
            position = {text: i for i, text in enumerate(unique)}
            sides.append((encoded, [position[t] for t in texts]))
        (q_out, q_index), (p_out, p_index) = sides
        rows = []
        for qi, pi in zip(q_index, p_index, strict=True):
            dense = float(q_out["dense_vecs"][qi] @ p_out["dense_vecs"][pi])
            sparse = scoring.lexical_score(q_out["lexical_weights"][qi], p_out["lexical_weights"][pi])
            colbert = scoring.colbert_score(q_out["colbert_vecs"][qi], p_out["colbert_vecs"][pi])
            rows.append(scoring.mix(dense, sparse, colbert, weights))
        if single:
            return rows[0]
        return {key: [row[key] for row in rows] for key in rows[0]}

    def compute_score_single_device(self, sentence_pairs: Any, batch_size: int | None = None,
                                    max_query_length: int | None = None, max_passage_length: int | None = None,
                                    weights_for_different_modes: Any = None, device: Any = None,
                                    **kwargs: Any) -> dict[str, Any]:
        """FlagEmbedding's name: :meth:`compute_score` on the model's first device only."""
        with self.first_device_only(device):
            return self.compute_score(sentence_pairs, batch_size=batch_size, max_query_length=max_query_length,
                                      max_passage_length=max_passage_length,
                                      weights_for_different_modes=weights_for_different_modes, **kwargs)

    # -- FlagEmbedding's helpers -----------------------------------------------------------
    @staticmethod
    def compute_lexical_matching_score(lexical_weights_1: Any, lexical_weights_2: Any) -> Any:
        return scoring.compute_lexical_matching_score(lexical_weights_1, lexical_weights_2)

    @staticmethod
    def colbert_score(q_reps: Any, p_reps: Any) -> float:
        return scoring.colbert_score(q_reps, p_reps)

    def convert_id_to_token(self, lexical_weights: Any) -> Any:
        """Lexical weights keyed by token text instead of token id: a dict for a dict (and, as FlagEmbedding returns
        it, for a list of one dict), a list of dicts for a longer list. Every key must be a token id of the
        tokenizer's vocabulary (``0`` to ``len(tokenizer) - 1``), as an int or a string of one."""
        if isinstance(lexical_weights, dict):
            return self._decode_keys(lexical_weights)
        if isinstance(lexical_weights, list) and all(isinstance(w, dict) for w in lexical_weights):
            decoded = [self._decode_keys(w) for w in lexical_weights]
            return decoded[0] if len(decoded) == 1 else decoded  # FlagEmbedding's return for a one-item list
        raise ValueError("convert_id_to_token expects a dict (token id → weight) or a list of such dicts")

    def _decode_keys(self, weights: dict[str, float]) -> dict[str, float]:
        decoded: dict[str, float] = {}
        vocabulary = len(self.tokenizer)
        for token_id, weight in weights.items():
            try:
                number = int(token_id)
            except (TypeError, ValueError, OverflowError):
                number = None
            if number is None or not 0 <= number < vocabulary:
                raise ValueError(f"convert_id_to_token: {token_id!r} is not a token id of the vocabulary: keys must "
                                 f"be token ids from 0 to {vocabulary - 1}")
            token = self.tokenizer.decode([number])
            decoded[token] = max(weight, decoded.get(token, weight))
        return decoded
