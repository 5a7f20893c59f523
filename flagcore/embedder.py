"""AbsEmbedder: everything embedder families share. A family only loads its model and says
what one padded batch turns into (``embed_batch``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Iterator

from .engine.devices import DevicesArg
from .inputs import as_texts, check_instruction_format, flag, format_instruction, positive_int, positive_int_or
from .limits import check_room_for_special_tokens, fit_max_length
from .model_base import TOKENIZE_ONLY, Columns, InferenceModel
from .pooling import ALL_POOLING_MODES, pool
from .similarity import similarity_of
from .st.route import Route, prompt_length, prompt_prefix
from .st.settings import DeclaredSettings
from .streaming import PRETOKENIZED, stream_call

if TYPE_CHECKING:
    import numpy as np


class AbsEmbedder(InferenceModel):
    """Base class of every embedder. Arguments and defaults follow FlagEmbedding 1.4.2.

    Families implement :meth:`embed_batch` (forward pass + pooling of one padded batch, giving a
    ``(batch, dim)`` tensor). Truncation to ``truncate_dim``, L2 normalisation, conversion and
    ordering are done here for every family.
    """

    #: pooling names a caller may pass as ``pooling_method`` (a sentence-transformers model's own Pooling module
    #: may declare any mode of :data:`flagcore.pooling.ALL_POOLING_MODES`: the core applies it)
    pooling_methods: ClassVar[tuple[str, ...]] = ALL_POOLING_MODES
    #: the pooling when neither the caller nor the model's files say (FlagEmbedding's default for the class)
    default_pooling_method: ClassVar[str] = "cls"

    def __init__(
        self,
        model_name_or_path: str | os.PathLike[str],
        normalize_embeddings: bool | None = None,
        use_fp16: bool = True,
        use_bf16: bool = False,
        query_instruction_for_retrieval: str | None = None,
        query_instruction_format: str = "{}{}",
        devices: DevicesArg = None,
        batch_size: int = 256,
        query_max_length: int | None = None,
        passage_max_length: int | None = None,
        convert_to_numpy: bool = True,
        truncate_dim: int | None = None,
        passage_instruction_for_retrieval: str | None = None,
        passage_instruction_format: str = "{}{}",
        trust_remote_code: bool = False,
        cache_dir: str | None = None,
        pooling_method: str | None = None,
        **kwargs: Any,
    ) -> None:
        computes_states = type(self).token_embeddings is not AbsEmbedder.token_embeddings
        if not computes_states and type(self).embed_batch is AbsEmbedder.embed_batch:
            raise TypeError(f"{type(self).__name__} is abstract: a family implements token_embeddings or embed_batch")
        super().__init__(
            model_name_or_path, use_fp16=use_fp16, use_bf16=use_bf16, devices=devices,
            batch_size=batch_size, trust_remote_code=trust_remote_code, cache_dir=cache_dir, **kwargs,
        )
        #: what the model's sentence-transformers files declare (None: none, or a model of FlagEmbedding's table)
        self.declared = DeclaredSettings.of(self.model_name_or_path, cache_dir)
        declared = self.declared
        self.normalize_embeddings = (declared.normalizes if normalize_embeddings is None
                                     else flag(normalize_embeddings, "normalize_embeddings"))
        self.query_instruction_for_retrieval = query_instruction_for_retrieval
        self.query_instruction_format = check_instruction_format(query_instruction_format, "query_instruction_format")
        self.passage_instruction_for_retrieval = passage_instruction_for_retrieval
        self.passage_instruction_format = check_instruction_format(
            passage_instruction_format, "passage_instruction_format")
        self.query_max_length = positive_int_or(query_max_length, declared.max_length("query"), "query_max_length")
        self.passage_max_length = positive_int_or(passage_max_length, declared.max_length("document"),
                                                  "passage_max_length")
        self.convert_to_numpy = flag(convert_to_numpy, "convert_to_numpy")
        truncate_dim = declared.truncate_dim if truncate_dim is None else truncate_dim
        self.truncate_dim = None if truncate_dim is None else positive_int(truncate_dim, "truncate_dim")
        self.pooling_method = declared.pooling(pooling_method, self)
        self.sentence_head = declared.head(pooling_method, self, computes_states)
        self.similarity_fn_name = declared.similarity_fn_name

    @property
    def tokenizer(self) -> Any:
        return self.__dict__.get("_tokenizer")

    @tokenizer.setter
    def tokenizer(self, tokenizer: Any) -> None:
        # the constructor's token limits need the tokenizer's special tokens: checked once a family has loaded it
        self.__dict__["_tokenizer"] = tokenizer
        if tokenizer is not None:
            self.declared.adjust_tokenizer(tokenizer)
            for name in ("query_max_length", "passage_max_length"):
                check_room_for_special_tokens(self, getattr(self, name), name)

    # -- what a family provides ------------------------------------------------------------
    def token_embeddings(self, batch: dict[str, Any], **options: Any) -> Any:
        """Forward one padded batch (tensors on the device) to its last hidden states ``(batch, tokens, hidden)``.

        A family that implements this gets the core's pooling (``pooling_method``) and, for a model saved by
        sentence-transformers, the model's whole module chain after the transformer (pooling modes, prompt
        exclusion, Dense, LayerNorm, routes). A family that pools on its own overrides :meth:`embed_batch` instead.
        """
        raise NotImplementedError(f"{type(self).__name__} implements neither token_embeddings nor embed_batch")

    def embed_batch(self, batch: dict[str, Any], **options: Any) -> Any:
        """Forward one padded batch (tensors on the device) and pool it to a ``(batch, dim)`` tensor: by default
        :meth:`token_embeddings` pooled by ``pooling_method``."""
        return pool(self.token_embeddings(batch, **options), batch["attention_mask"], self.pooling_method)

    def tokenize(self, texts: list[str], max_length: int) -> Columns:
        """Token ids (and masks) per text, truncated to ``max_length``, unpadded."""
        encoded = self.tokenizer(texts, truncation=True, max_length=max_length, padding=False)
        names = getattr(self.tokenizer, "model_input_names", None) or ["input_ids", "attention_mask"]
        return {key: list(encoded[key]) for key in encoded.keys() if key in names or key == "input_ids"}

    # -- sentence-transformers conveniences (flagcore additions) ------------------------------
    def get_sentence_embedding_dimension(self) -> int:
        """The width of the returned vectors (sentence-transformers' name for :attr:`embedding_dim`)."""
        return self.embedding_dim

    @property
    def max_seq_length(self) -> int:
        """Tokens kept of each passage (``passage_max_length``), under sentence-transformers' name; setting it sets
        both ``query_max_length`` and ``passage_max_length``."""
        return self.passage_max_length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        value = check_room_for_special_tokens(self, positive_int(value, "max_seq_length"), "max_seq_length")
        self.query_max_length = self.passage_max_length = value

    def similarity(self, embeddings_1: Any, embeddings_2: Any) -> Any:
        """The similarity of every row of ``embeddings_1`` with every row of ``embeddings_2`` (an ``(n, m)`` numpy
        array for numpy input, a torch tensor for tensors; a single vector counts as one row): cosine, or what a
        sentence-transformers model declares as its ``similarity_fn_name`` (``dot``, ``euclidean`` and ``manhattan``
        give the dot product and the negative distances, as sentence-transformers does)."""
        return similarity_of(embeddings_1, embeddings_2, self.similarity_fn_name)

    @staticmethod
    def get_detailed_instruct(instruction_format: str, instruction: str, sentence: str) -> str:
        """FlagEmbedding's helper: ``instruction_format.format(instruction, sentence)`` (a literal backslash-n in
        the format means a newline)."""
        return format_instruction(instruction_format, instruction, sentence)

    @property
    def embedding_dim(self) -> int:
        """Width of the returned vectors (hidden size, or what a sentence-transformers module chain makes of it; or
        ``truncate_dim`` when smaller)."""
        config = getattr(self.model, "config", None)
        hidden = getattr(config, "hidden_size", None)
        if hidden is None:
            raise NotImplementedError(f"{type(self).__name__} must define embedding_dim")
        if self.sentence_head is not None:
            hidden = self.sentence_head.output_width(int(hidden))
        return min(hidden, self.truncate_dim) if self.truncate_dim else int(hidden)

    # -- public calls ----------------------------------------------------------------------
    def encode_queries(self, queries: str | list[str], batch_size: int | None = None,
                       max_length: int | None = None, convert_to_numpy: bool | None = None, **kwargs: Any) -> Any:
        """Embed queries, with ``query_instruction_for_retrieval`` applied when it is set (else the model's own
        ``query`` prompt, for a model saved by sentence-transformers)."""
        _no_instruction_arguments("encode_queries", "query", kwargs)
        return self.encode(
            queries, batch_size=batch_size, max_length=self.query_max_length if max_length is None else max_length,
            convert_to_numpy=convert_to_numpy, instruction=self.query_instruction_for_retrieval,
            instruction_format=self.query_instruction_format, task="query", **kwargs,
        )

    def encode_corpus(self, corpus: str | list[str], batch_size: int | None = None,
                      max_length: int | None = None, convert_to_numpy: bool | None = None, **kwargs: Any) -> Any:
        """Embed passages, with ``passage_instruction_for_retrieval`` applied when it is set (else the model's own
        ``document``, ``passage`` or ``corpus`` prompt, the first it declares)."""
        _no_instruction_arguments("encode_corpus", "passage", kwargs)
        return self.encode(
            corpus, batch_size=batch_size, max_length=self.passage_max_length if max_length is None else max_length,
            convert_to_numpy=convert_to_numpy, instruction=self.passage_instruction_for_retrieval,
            instruction_format=self.passage_instruction_format, task="document", **kwargs,
        )

    def encode(self, sentences: str | list[str], batch_size: int | None = None, max_length: int | None = None,
               convert_to_numpy: bool | None = None, instruction: str | None = None,
               instruction_format: str | None = None, task: str | None = None, **kwargs: Any) -> Any:
        """Embed texts. One string → ``(d,)``; a list → ``(n, d)``. ``instruction_format`` defaults to ``"{}{}"``
        (None), and is checked as the constructor checks its formats.

        No instruction is applied unless passed, except the prompt a sentence-transformers model declares: its
        ``default_prompt_name`` prompt, or with ``task="query"`` / ``"document"`` (what :meth:`encode_queries` and
        :meth:`encode_corpus` pass) that task's prompt; ``task`` also picks a Router model's route."""
        texts, single = as_texts(sentences)
        if task is not None and not isinstance(task, str):
            raise TypeError(f"task must be a string such as 'query' or 'document', not {type(task).__name__}")
        fmt = check_instruction_format("{}{}" if instruction_format is None else instruction_format,
                                       "instruction_format") if instruction is not None else "{}{}"
        instruction, fmt, route = self._prompted(task, instruction, fmt)
        if instruction is not None:
            texts = [format_instruction(fmt, instruction, text) for text in texts]
        return self.encode_texts(texts, single, self.tokenize,
                                 max_length=positive_int_or(max_length, self.passage_max_length, "max_length"),
                                 batch_size=batch_size, convert_to_numpy=convert_to_numpy, options=kwargs,
                                 route=route)

    def encode_single_device(self, sentences: str | list[str], batch_size: int | None = None,
                             max_length: int | None = None, convert_to_numpy: bool | None = None, device: Any = None,
                             **kwargs: Any) -> Any:
        """FlagEmbedding's name: :meth:`encode` on the model's first device only (``device``: that device or
        None)."""
        with self.first_device_only(device):
            return self.encode(sentences, batch_size=batch_size, max_length=max_length,
                               convert_to_numpy=convert_to_numpy, **kwargs)

    def encode_texts(self, texts: list[str], single: bool, tokenize: Callable[[list[str], int], Columns], *,
                     max_length: int, batch_size: int | None, convert_to_numpy: bool | None,
                     options: dict[str, Any], caller: Callable[..., Any] | None = None,
                     route: Route | None = None) -> Any:
        """The shared path of every encode call: ``tokenize(texts, max_length)`` (unpadded columns), then batches
        under the token budget on every device, ``embed_batch`` + ``finish_batch`` per batch, merged in input order.

        A family that builds its token ids differently for some calls (ICL queries) passes its own ``tokenize``.
        ``options`` are the call's extra keyword arguments: core options and the family's ``call_options``.
        ``route``: the call's task and prompt length, for a sentence-transformers module chain.
        """
        to_tensor = options.pop("convert_to_tensor", None)
        core, family = self._split_call_options(caller or self.encode, options)
        to_numpy = self.convert_to_numpy if convert_to_numpy is None else flag(convert_to_numpy, "convert_to_numpy")
        if to_tensor is not None and flag(to_tensor, "convert_to_tensor"):
            to_numpy = False  # sentence-transformers' switch: a tensor whatever convert_to_numpy says
        max_length = fit_max_length(self, check_room_for_special_tokens(
            self, positive_int(max_length, "max_length"), "max_length"))
        if not texts:
            return self.empty_output(to_numpy, **family)
        pretokenized = PRETOKENIZED.get()  # a stream's chunk, tokenized ahead in its tokenizer thread
        columns = tokenize(texts, max_length) if pretokenized is None else pretokenized
        if TOKENIZE_ONLY.get():
            return columns
        # results cross process boundaries as numpy arrays; tensors are made at the end when asked for
        several = len(self.target_devices) > 1
        outputs, batcher = self._run_batched(columns, positive_int_or(batch_size, self.batch_size, "batch_size"),
                                             "_embed_step",
                                             (family, to_numpy or several, route or Route()), desc="Encoding",
                                             **core)
        merged = self.merge_batches(outputs, batcher.restore, single, to_numpy or several)
        return self.outputs_as_tensors(merged) if several and not to_numpy else merged

    # -- streaming: any iterable in, one result per chunk out (flagcore.streaming) -----------------------------
    def encode_stream(self, sentences: Iterable[str], chunk_size: int | None = None, *, prefetch: int = 1,
                      **kwargs: Any) -> Iterator[Any]:
        """Embed an iterable of texts of any length (a generator, a file's lines, a dataset column) chunk by chunk:
        yields, in input order, exactly what :meth:`encode` returns for each chunk's list (``(n, d)`` numpy arrays;
        M3's dicts), ``chunk_size`` rows at a time (8192 by default; the last chunk shorter). Memory is bounded by
        the chunk size: the next chunk is read and tokenized in a background thread while the current one runs
        (``prefetch`` chunks ahead), on every device of ``devices=[...]``. ``kwargs``: :meth:`encode`'s."""
        return stream_call(self.encode, sentences, chunk_size=chunk_size, prefetch=prefetch,
                           tokenize_only=TOKENIZE_ONLY, **kwargs)

    def encode_queries_stream(self, queries: Iterable[str], chunk_size: int | None = None, *, prefetch: int = 1,
                              **kwargs: Any) -> Iterator[Any]:
        """:meth:`encode_stream` with :meth:`encode_queries` per chunk (the query instruction applies)."""
        return stream_call(self.encode_queries, queries, chunk_size=chunk_size, prefetch=prefetch,
                           tokenize_only=TOKENIZE_ONLY, **kwargs)

    def encode_corpus_stream(self, corpus: Iterable[str], chunk_size: int | None = None, *, prefetch: int = 1,
                             **kwargs: Any) -> Iterator[Any]:
        """:meth:`encode_stream` with :meth:`encode_corpus` per chunk (the passage instruction applies)."""
        return stream_call(self.encode_corpus, corpus, chunk_size=chunk_size, prefetch=prefetch,
                           tokenize_only=TOKENIZE_ONLY, **kwargs)

    # -- serving hooks: tokenize each request on its own, run the rows of many in shared batches ------------------
    def tokenize_inputs(self, texts: list[str], *, query: bool = False) -> Columns:
        """The token columns that ``encode_queries(texts)`` (``query=True``) or ``encode_corpus(texts)`` would run,
        instruction applied and truncated as those calls do (a family's own tokenization included), unpadded and in
        input order; the model does not run. :meth:`encode_tokenized` embeds them."""
        if not texts:
            return {"input_ids": []}
        token = TOKENIZE_ONLY.set(True)
        try:
            return (self.encode_queries if query else self.encode_corpus)(list(texts))
        finally:
            TOKENIZE_ONLY.reset(token)

    def encode_tokenized(self, columns: Columns, *, batch_size: int | None = None,
                         convert_to_numpy: bool | None = None, query: bool | None = None, **kwargs: Any) -> Any:
        """Embed rows tokenized by :meth:`tokenize_inputs` (the columns of several calls may be concatenated, row
        by row): the batching under the token budget, steps and post-processing of :meth:`encode`, output rows in
        the order given (as for a list). ``query``: the side the rows were tokenized for (``tokenize_inputs``'s
        ``query``; True or False), which a sentence-transformers model's prompt exclusion and routes depend on.
        ``kwargs``: :meth:`encode`'s call options (a family's, e.g. M3's ``return_sparse``)."""
        rows = len(columns["input_ids"])
        route = Route()
        if query is not None:
            task = "query" if query else "document"
            instruction = self.query_instruction_for_retrieval if query else self.passage_instruction_for_retrieval
            fmt = self.query_instruction_format if query else self.passage_instruction_format
            route = self._prompted(task, instruction, fmt)[2]
        return self.encode_texts([""] * rows, False, lambda _texts, _max_length: columns,
                                 max_length=self.passage_max_length, batch_size=batch_size,
                                 convert_to_numpy=convert_to_numpy, options=kwargs, route=route)

    def _prompted(self, task: str | None, instruction: str | None, fmt: str) -> tuple[str | None, str, Route]:
        """(instruction, format, route) of a call: the caller's instruction, else the prompt the model declares for
        the task (as a plain prefix); the route carries the task and the prompt's token count."""
        if instruction is None:
            instruction, fmt = self.declared.prompt(task), "{}{}"
        prefix = prompt_prefix(fmt, instruction) if instruction is not None else ""
        return instruction, fmt, Route(task, prompt_length(self.tokenizer, prefix) if self.sentence_head else 0)

    def _embed_step(self, batch: dict[str, Any], family: dict[str, Any], to_numpy: bool, route: Route) -> Any:
        if self.sentence_head is None:
            return self.finish_batch(self.embed_batch(batch, **family), batch, to_numpy)
        states = self.token_embeddings(batch, **family)
        return self.finish_batch(self.sentence_head(states, batch["attention_mask"], route), batch, to_numpy)

    def _place_model(self) -> None:
        super()._place_model()
        if self.sentence_head is not None:  # fp32 on the model's device, whatever the backbone's precision
            self.sentence_head.to(self.device)

    # -- post-processing (families with structured outputs, such as M3, override these) -----
    def outputs_as_tensors(self, merged: Any) -> Any:
        """Merged numpy outputs as tensors on the device, for ``convert_to_numpy=False`` on several devices
        (results cross process boundaries as numpy arrays)."""
        import torch

        return torch.from_numpy(merged).to(self.device)

    def finish_batch(self, embeddings: Any, batch: dict[str, Any], to_numpy: bool) -> Any:
        """Truncate to ``truncate_dim``, L2-normalise, convert one batch's ``embed_batch`` output."""
        import torch

        if embeddings.dtype == torch.bfloat16:  # normalised in fp32: bf16 keeps ~3 significant digits
            embeddings = embeddings.float()
        if self.truncate_dim is not None:
            if self.truncate_dim > embeddings.shape[-1]:
                raise ValueError(f"truncate_dim={self.truncate_dim} is wider than the model's {embeddings.shape[-1]}-"
                                 "dimensional embeddings; pass a smaller truncate_dim, or None for the full width")
            embeddings = embeddings[..., : self.truncate_dim]
        if self.normalize_embeddings:
            embeddings = torch.nn.functional.normalize(embeddings, dim=-1)
        if to_numpy:
            return embeddings.cpu().numpy()
        return embeddings

    def merge_batches(self, outputs: list[Any], restore: np.ndarray, single: bool, to_numpy: bool) -> Any:
        """Join the finished batches and put rows back in input order (``ran[restore]``)."""
        import numpy as np

        if to_numpy:
            merged = np.concatenate(outputs, axis=0)[restore]
        else:
            import torch

            merged = torch.cat(outputs, dim=0)[torch.as_tensor(restore, device=outputs[0].device)]
        return merged[0] if single else merged

    def empty_output(self, to_numpy: bool, **options: Any) -> Any:
        """What encoding an empty list returns: a ``(0, dim)`` array or tensor."""
        if to_numpy:
            import numpy as np

            return np.zeros((0, self.embedding_dim), dtype=np.float32)
        import torch

        return torch.zeros((0, self.embedding_dim), dtype=torch.float32)


def _no_instruction_arguments(method: str, side: str, kwargs: dict[str, Any]) -> None:
    given = sorted({"instruction", "instruction_format"} & set(kwargs))
    if given:
        raise TypeError(
            f"{method}() takes no {' or '.join(given)}: it applies {side}_instruction_for_retrieval with "
            f"{side}_instruction_format (set them on the model), or call encode(texts, instruction=...) instead")
