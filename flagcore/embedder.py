"""AbsEmbedder: everything embedder families share. A family only loads its model and says what one padded batch
turns into (``token_embeddings``, or ``embed_batch``); the stages of a call (``prepare_*`` → ``run`` → ``finish`` →
``present``) are the same for every family."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Iterator, Mapping

from .embedding_precision import check_precision, quantize_embeddings
from .inputs import as_texts, check_bool, check_instruction_format, format_instruction, positive_int, positive_int_or
from .limits import check_room_for_special_tokens, fit_max_length
from .model_base import Columns, InferenceModel
from .outputs import (
    DENSE,
    DENSE_ONLY,
    MULTI_VECTOR,
    SPARSE,
    TOKEN_EMBEDDINGS,
    Embeddings,
    EmbedStep,
    EmbedWork,
    check_outputs,
)
from .pooling import ALL_POOLING_MODES, pool
from .similarity import similarity_of
from .st.route import Route, prompt_length, prompt_prefix
from .st.settings import DeclaredSettings
from .streaming import stream_stages

if TYPE_CHECKING:
    from .engine.devices import DevicesArg
    from .outputs import Ran


class AbsEmbedder(InferenceModel[EmbedWork, Embeddings]):
    """Base class of every embedder. Arguments and defaults follow FlagEmbedding 1.4.2.

    Families implement :meth:`token_embeddings` (the core pools) or :meth:`embed_batch` (one padded batch to a
    ``(batch, dim)`` tensor, or to an :class:`~flagcore.outputs.Embeddings` when the family declares more outputs in
    :attr:`available_outputs`). Truncation to ``truncate_dim``, L2 normalisation, conversion and ordering are done
    here for every family.
    """

    #: pooling names a caller may pass as ``pooling_method`` (a sentence-transformers model's own Pooling module
    #: may declare any mode of :data:`flagcore.pooling.ALL_POOLING_MODES`: the core applies it)
    pooling_methods: ClassVar[tuple[str, ...]] = ALL_POOLING_MODES
    #: the pooling when neither the caller nor the model's files say (FlagEmbedding's default for the class)
    default_pooling_method: ClassVar[str] = "cls"
    progress_label = ("Encoding", "text")

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
                                     else check_bool(normalize_embeddings, "normalize_embeddings"))
        self.query_instruction_for_retrieval = query_instruction_for_retrieval
        self.query_instruction_format = check_instruction_format(query_instruction_format, "query_instruction_format")
        self.passage_instruction_for_retrieval = passage_instruction_for_retrieval
        self.passage_instruction_format = check_instruction_format(
            passage_instruction_format, "passage_instruction_format")
        self.query_max_length = positive_int_or(query_max_length, declared.max_length("query"), "query_max_length")
        self.passage_max_length = positive_int_or(passage_max_length, declared.max_length("document"),
                                                  "passage_max_length")
        self.convert_to_numpy = check_bool(convert_to_numpy, "convert_to_numpy")
        truncate_dim = declared.truncate_dim if truncate_dim is None else truncate_dim
        self.truncate_dim = None if truncate_dim is None else positive_int(truncate_dim, "truncate_dim")
        self.pooling_method = declared.pooling(pooling_method, self)
        self.sentence_head = declared.head(pooling_method, self, computes_states)
        self._computes_states = computes_states
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
        :meth:`token_embeddings` pooled by ``pooling_method``. A family with several outputs returns an
        :class:`~flagcore.outputs.Embeddings` whose ``dense`` is that tensor (or None when not asked for), ``sparse``
        one ``{token id: weight}`` dict per row and ``multi_vector`` one ``(tokens, d)`` numpy array per row."""
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

    # -- what the model gives -----------------------------------------------------------------------------------
    @property
    def available_outputs(self) -> frozenset[str]:
        """The outputs this model can give: what front ends may ask :meth:`prepare_encode` and its siblings for with
        ``outputs=``. :data:`~flagcore.outputs.DENSE` always; :data:`~flagcore.outputs.TOKEN_EMBEDDINGS` (the
        transformer's vector of every real token) for a family that implements :meth:`token_embeddings`; M3 has its
        own (sparse, ColBERT)."""
        return DENSE_ONLY | {TOKEN_EMBEDDINGS} if self._computes_states else DENSE_ONLY

    def outputs_for_options(self, options: Mapping[str, Any]) -> frozenset[str]:
        """The outputs a call with these family options returns when it does not pass ``outputs=`` (M3: its
        ``return_*`` switches)."""
        return DENSE_ONLY

    def options_for_outputs(self, outputs: frozenset[str]) -> dict[str, Any]:
        """The family options that make a call return ``outputs`` (M3: its ``return_*`` switches)."""
        return {}

    # -- the prepare stage ---------------------------------------------------------------------------------------
    def prepare_queries(self, queries: str | list[str], batch_size: int | None = None,
                        max_length: int | None = None, convert_to_numpy: bool | None = None,
                        **kwargs: Any) -> EmbedWork:
        """The work of :meth:`encode_queries` (tokenized, nothing run)."""
        _no_instruction_arguments("encode_queries", "query", kwargs)
        return self.prepare_encode(
            queries, batch_size=batch_size, max_length=self.query_max_length if max_length is None else max_length,
            convert_to_numpy=convert_to_numpy, instruction=self.query_instruction_for_retrieval,
            instruction_format=self.query_instruction_format, task="query", **kwargs,
        )

    def prepare_corpus(self, corpus: str | list[str], batch_size: int | None = None,
                       max_length: int | None = None, convert_to_numpy: bool | None = None,
                       **kwargs: Any) -> EmbedWork:
        """The work of :meth:`encode_corpus` (tokenized, nothing run)."""
        _no_instruction_arguments("encode_corpus", "passage", kwargs)
        return self.prepare_encode(
            corpus, batch_size=batch_size, max_length=self.passage_max_length if max_length is None else max_length,
            convert_to_numpy=convert_to_numpy, instruction=self.passage_instruction_for_retrieval,
            instruction_format=self.passage_instruction_format, task="document", **kwargs,
        )

    def prepare_side(self, texts: str | list[str], *, query: bool, prompt_name: str | None = None,
                     **kwargs: Any) -> EmbedWork:
        """:meth:`prepare_queries` (``query=True``) or :meth:`prepare_corpus`: for front ends that take the side as
        a value. ``prompt_name``: one of the model's own prompts instead of the side's instruction (the side still
        picks a Router model's route)."""
        if prompt_name is None:
            return (self.prepare_queries if query else self.prepare_corpus)(texts, **kwargs)
        max_length = kwargs.pop("max_length", None)
        return self.prepare_encode(
            texts, max_length=(self.query_max_length if query else self.passage_max_length) if max_length is None
            else max_length, task="query" if query else "document", prompt_name=prompt_name, **kwargs)

    @property
    def prompts(self) -> dict[str, str]:
        """The prompts the model's files declare, by name (sentence-transformers' ``prompts``); empty if none."""
        return self.declared.prompts

    def prompt_named(self, name: str) -> str:
        """The model's prompt called ``name``, refused naming the ones it has."""
        prompts = self.prompts
        if name not in prompts:
            have = f"its prompts are {sorted(prompts)}" if prompts else "it declares no prompts"
            raise ValueError(f"prompt_name={name!r}: {self.model_name_or_path} has no prompt of that name ({have})")
        return prompts[name]

    def prepare_encode(self, sentences: str | list[str], batch_size: int | None = None,
                       max_length: int | None = None, convert_to_numpy: bool | None = None,
                       instruction: str | None = None, instruction_format: str | None = None,
                       task: str | None = None, prompt_name: str | None = None, **kwargs: Any) -> EmbedWork:
        """The work of :meth:`encode` (tokenized, nothing run)."""
        texts, single = as_texts(sentences)
        texts, route = self._instructed(texts, instruction, instruction_format, task, prompt_name)
        return self.prepare_texts(texts, single, self.tokenize,
                                  max_length=positive_int_or(max_length, self.passage_max_length, "max_length"),
                                  batch_size=batch_size, convert_to_numpy=convert_to_numpy, options=kwargs,
                                  route=route)

    def prepare_texts(self, texts: list[str], single: bool, tokenize: Callable[[list[str], int], Columns], *,
                      max_length: int, batch_size: int | None, convert_to_numpy: bool | None,
                      options: dict[str, Any], caller: Callable[..., Any] | None = None,
                      route: Route | None = None) -> EmbedWork:
        """The shared end of every ``prepare_*``: ``tokenize(texts, max_length)`` (unpadded columns) and the call's
        checked options. A family that builds its token ids differently for some calls (ICL queries) passes its own
        ``tokenize``. ``options``: the call's extra keyword arguments (core options, the family's
        ``call_options``, and ``outputs``: which of :attr:`available_outputs` to return). ``route``: the call's task
        and prompt length, for a sentence-transformers module chain."""
        options = dict(options)
        to_tensor = options.pop("convert_to_tensor", None)
        requested = options.pop("outputs", None)
        precision = check_precision(options.pop("precision", "float32"))
        ranges = options.pop("ranges", None)
        core, family = self._split_call_options(caller or self.encode, options)
        to_numpy = (self.convert_to_numpy if convert_to_numpy is None
                    else check_bool(convert_to_numpy, "convert_to_numpy"))
        if to_tensor is not None and check_bool(to_tensor, "convert_to_tensor"):
            to_numpy = False  # sentence-transformers' switch: a tensor whatever convert_to_numpy says
        max_length = fit_max_length(self, check_room_for_special_tokens(
            self, positive_int(max_length, "max_length"), "max_length"))
        if requested is None:
            outputs = self.outputs_for_options(family)
        else:
            outputs = check_outputs(requested, self.available_outputs, type(self).__name__)
        family.update(self.options_for_outputs(outputs))
        columns = tokenize(texts, max_length) if texts else {"input_ids": []}
        # results cross process boundaries as numpy arrays; tensors are made at the end when asked for
        several = len(self.target_devices) > 1
        return EmbedWork(columns, EmbedStep(family, to_numpy or several, route or Route(), outputs),
                         positive_int_or(batch_size, self.batch_size, "batch_size"), single, to_numpy=to_numpy,
                         outputs=outputs, precision=precision, ranges=ranges, **core)

    # -- public calls --------------------------------------------------------------------------------------------
    def encode_queries(self, queries: str | list[str], batch_size: int | None = None,
                       max_length: int | None = None, convert_to_numpy: bool | None = None, **kwargs: Any) -> Any:
        """Embed queries, with ``query_instruction_for_retrieval`` applied when it is set (else the model's own
        ``query`` prompt, for a model saved by sentence-transformers)."""
        return self.complete(self.prepare_queries(queries, batch_size, max_length, convert_to_numpy, **kwargs))

    def encode_corpus(self, corpus: str | list[str], batch_size: int | None = None,
                      max_length: int | None = None, convert_to_numpy: bool | None = None, **kwargs: Any) -> Any:
        """Embed passages, with ``passage_instruction_for_retrieval`` applied when it is set (else the model's own
        ``document``, ``passage`` or ``corpus`` prompt, the first it declares)."""
        return self.complete(self.prepare_corpus(corpus, batch_size, max_length, convert_to_numpy, **kwargs))

    def encode(self, sentences: str | list[str], batch_size: int | None = None, max_length: int | None = None,
               convert_to_numpy: bool | None = None, instruction: str | None = None,
               instruction_format: str | None = None, task: str | None = None, **kwargs: Any) -> Any:
        """Embed texts. One string → ``(d,)``; a list → ``(n, d)``. ``instruction_format`` defaults to ``"{}{}"``
        (None), and is checked as the constructor checks its formats.

        No instruction is applied unless passed, except the prompt a sentence-transformers model declares: its
        ``default_prompt_name`` prompt, or with ``task="query"`` / ``"document"`` (what :meth:`encode_queries` and
        :meth:`encode_corpus` pass) that task's prompt; ``task`` also picks a Router model's route."""
        return self.complete(self.prepare_encode(sentences, batch_size, max_length, convert_to_numpy, instruction,
                                                 instruction_format, task, **kwargs))

    def encode_single_device(self, sentences: str | list[str], batch_size: int | None = None,
                             max_length: int | None = None, convert_to_numpy: bool | None = None, device: Any = None,
                             **kwargs: Any) -> Any:
        """FlagEmbedding's name: :meth:`encode` on the model's first device only (``device``: that device or
        None)."""
        with self.first_device_only(device):
            return self.encode(sentences, batch_size=batch_size, max_length=max_length,
                               convert_to_numpy=convert_to_numpy, **kwargs)

    # -- streaming: any iterable in, one result per chunk out (flagcore.streaming) -----------------------------
    def encode_stream(self, sentences: Iterable[str], chunk_size: int | None = None, *, prefetch: int = 1,
                      **kwargs: Any) -> Iterator[Any]:
        """Embed an iterable of texts of any length (a generator, a file's lines, a dataset column) chunk by chunk:
        yields, in input order, exactly what :meth:`encode` returns for each chunk's list (``(n, d)`` numpy arrays;
        M3's dicts), ``chunk_size`` rows at a time (8192 by default; the last chunk shorter). Memory is bounded by
        the chunk size: the next chunk is read and tokenized in a background thread while the current one runs
        (``prefetch`` chunks ahead), on every device of ``devices=[...]``. ``kwargs``: :meth:`encode`'s."""
        return stream_stages(self.prepare_encode, self.complete, sentences, chunk_size=chunk_size,
                             prefetch=prefetch, **kwargs)

    def encode_queries_stream(self, queries: Iterable[str], chunk_size: int | None = None, *, prefetch: int = 1,
                              **kwargs: Any) -> Iterator[Any]:
        """:meth:`encode_stream` with :meth:`encode_queries` per chunk (the query instruction applies)."""
        return stream_stages(self.prepare_queries, self.complete, queries, chunk_size=chunk_size,
                             prefetch=prefetch, **kwargs)

    def encode_corpus_stream(self, corpus: Iterable[str], chunk_size: int | None = None, *, prefetch: int = 1,
                             **kwargs: Any) -> Iterator[Any]:
        """:meth:`encode_stream` with :meth:`encode_corpus` per chunk (the passage instruction applies)."""
        return stream_stages(self.prepare_corpus, self.complete, corpus, chunk_size=chunk_size,
                             prefetch=prefetch, **kwargs)

    def side_texts(self, texts: list[str], *, query: bool, prompt_name: str | None = None) -> list[str]:
        """``texts`` as :meth:`prepare_side` hands them to the tokenizer: the side's instruction, the named prompt or
        the prompt the model declares for the side, applied."""
        if prompt_name is not None:
            instruction, fmt = None, None
        elif query:
            instruction, fmt = self.query_instruction_for_retrieval, self.query_instruction_format
        else:
            instruction, fmt = self.passage_instruction_for_retrieval, self.passage_instruction_format
        return self._instructed(list(texts), instruction, fmt, "query" if query else "document", prompt_name)[0]

    def _instructed(self, texts: list[str], instruction: str | None, instruction_format: str | None,
                    task: str | None, prompt_name: str | None) -> tuple[list[str], Route]:
        """The texts with the call's instruction or prompt applied, and the call's route."""
        if task is not None and not isinstance(task, str):
            raise TypeError(f"task must be a string such as 'query' or 'document', not {type(task).__name__}")
        if prompt_name is not None:
            if instruction is not None:
                raise TypeError("pass instruction or prompt_name, not both: prompt_name picks one of the model's "
                                "own prompts")
            instruction, instruction_format = self.prompt_named(prompt_name), None
        fmt = check_instruction_format("{}{}" if instruction_format is None else instruction_format,
                                       "instruction_format") if instruction is not None else "{}{}"
        instruction, fmt, route = self._prompted(task, instruction, fmt)
        if instruction is not None:
            texts = [format_instruction(fmt, instruction, text) for text in texts]
        return texts, route

    def _prompted(self, task: str | None, instruction: str | None, fmt: str) -> tuple[str | None, str, Route]:
        """(instruction, format, route) of a call: the caller's instruction, else the prompt the model declares for
        the task (as a plain prefix); the route carries the task and the prompt's token count."""
        if instruction is None:
            instruction, fmt = self.declared.prompt(task), "{}{}"
        prefix = prompt_prefix(fmt, instruction) if instruction is not None else ""
        return instruction, fmt, Route(task, prompt_length(self.tokenizer, prefix) if self.sentence_head else 0)

    # -- the run stage's batch, the finish stage and the public edge ------------------------------------------
    def forward_batch(self, batch: dict[str, Any], step: EmbedStep) -> Embeddings:
        """One padded batch → its :class:`~flagcore.outputs.Embeddings` (dense rows truncated, normalised and
        converted here, in the process that ran them)."""
        if self.sentence_head is None and TOKEN_EMBEDDINGS not in step.outputs or not self._computes_states:
            produced = self.embed_batch(batch, **step.family)
        else:
            produced = self._from_token_embeddings(batch, step)
        output = produced if isinstance(produced, Embeddings) else Embeddings(dense=produced)
        if output.dense is not None:
            output.dense = self.finish_dense(output.dense, step.to_numpy)
        return output

    def _from_token_embeddings(self, batch: dict[str, Any], step: EmbedStep) -> Embeddings:
        """The outputs asked for from one forward to token embeddings: the pooled (or module-chain) vectors, and the
        vector of every real token."""
        states = self.token_embeddings(batch, **step.family)
        mask = batch["attention_mask"]
        output = Embeddings()
        if DENSE in step.outputs:
            output.dense = (pool(states, mask, self.pooling_method) if self.sentence_head is None
                            else self.sentence_head(states, mask, step.route))
        if TOKEN_EMBEDDINGS in step.outputs:
            keep = mask.bool().cpu().numpy()
            vectors = states.float().cpu().numpy()
            output.token_embeddings = [vectors[i][keep[i]] for i in range(len(vectors))]
        return output

    def finish(self, work: EmbedWork, ran: Ran) -> Embeddings:
        """The batches' outputs as one result in input order, dense rows quantized to the call's ``precision``
        (tensors on the device when the call asked for tensors: rows from worker processes arrive as numpy)."""
        quantized = work.precision != "float32"
        if not ran.batches:
            merged = self.empty_embeddings(work.outputs, work.to_numpy or quantized)
        else:
            merged = Embeddings.joined(ran.batches, ran.order)
        if merged.dense is not None and quantized:
            merged.dense = quantize_embeddings(merged.dense, work.precision, work.ranges)
        import numpy as np

        if not work.to_numpy and isinstance(merged.dense, np.ndarray):
            import torch  # numpy rows (from worker processes, or quantized) for a caller that asked for tensors

            merged.dense = torch.from_numpy(merged.dense).to(self.device)
        return merged

    def present(self, work: EmbedWork, result: Embeddings) -> Any:
        """FlagEmbedding's shape: the dense rows (one row for a single text). A call that asked for other
        ``outputs=`` gets the typed :class:`~flagcore.outputs.Embeddings` (its one row for a single text)."""
        if work.outputs != DENSE_ONLY:
            return result.rows(0, 1) if work.single else result
        return result.dense[0] if work.single else result.dense

    def fp32_modules(self) -> list[Any]:
        return [] if self.sentence_head is None else [self.sentence_head]

    def _default_max_length(self, query: bool) -> int:
        return int(self.query_max_length if query else self.passage_max_length)

    def finish_dense(self, embeddings: Any, to_numpy: bool) -> Any:
        """Truncate to ``truncate_dim``, L2-normalise and convert one batch's dense rows."""
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

    def empty_embeddings(self, outputs: frozenset[str], to_numpy: bool) -> Embeddings:
        """What encoding an empty list gives: ``(0, dim)`` dense rows, empty lists for the other outputs."""
        dense: Any = None
        if DENSE in outputs:
            if to_numpy:
                import numpy as np

                dense = np.zeros((0, self.embedding_dim), dtype=np.float32)
            else:
                import torch

                dense = torch.zeros((0, self.embedding_dim), dtype=torch.float32)
        kinds = (SPARSE, MULTI_VECTOR, TOKEN_EMBEDDINGS)
        lists: Iterator[list[Any] | None] = ([] if kind in outputs else None for kind in kinds)
        return Embeddings(dense, *lists)


def _no_instruction_arguments(method: str, side: str, kwargs: dict[str, Any]) -> None:
    given = sorted({"instruction", "instruction_format"} & set(kwargs))
    if given:
        raise TypeError(
            f"{method}() takes no {' or '.join(given)}: it applies {side}_instruction_for_retrieval with "
            f"{side}_instruction_format (set them on the model), or call encode(texts, instruction=...) instead")
