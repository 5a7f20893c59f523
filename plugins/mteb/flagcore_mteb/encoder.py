"""A flagcore embedder behind MTEB's encoder protocol (``mteb.models.EncoderProtocol``).

MTEB says which side a text is on with ``prompt_type``; flagcore already knows each side's instruction, prompt and
max length, so the side picks the model's own call: queries as ``encode_queries`` embeds them, documents as
``encode_corpus`` does, and texts of symmetric tasks (no prompt type) as plain ``encode``. Per-task instructions
follow MTEB's two conventions (see :meth:`FlagcoreEncoder.instruction_for`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder, get_prompt
from mteb.types import PromptType

from flagcore import AbsEmbedder
from flagcore.integration import DENSE, embedder_from

from .calls import call_options, factory_options, texts_of
from .meta import embedder_meta

if TYPE_CHECKING:
    from mteb.abstasks.task_metadata import TaskMetadata
    from mteb.models.model_meta import ModelMeta

_PLAIN_FORMAT = "{}{}"


class FlagcoreEncoder(AbsEncoder):
    """Evaluate a flagcore embedder with MTEB: ``mteb.evaluate(FlagcoreEncoder("BAAI/bge-small-en-v1.5"), tasks)``.

    ``model``: a model name or path, loaded with ``FlagAutoModel.from_finetuned(model, **options)`` (``devices``,
    ``use_bf16``, ``backend``, ``quantize``, ``query_instruction_for_retrieval``, ``batch_size``...), or an
    already-loaded flagcore embedder (then no options). The wrapper's own keywords:

    * ``revision``: recorded in the results (flagcore loads what the name resolves to; it does not pin revisions);
      ``name`` likewise replaces the recorded name.
    * ``device``: what MTEB's loaders pass; becomes ``devices``.
    * ``model_prompts``: MTEB-style prompts by task name, task type or prompt type (``"query"``,
      ``"Retrieval-query"``, ``"ArguAna-query"``...), as MTEB's sentence-transformers wrapper takes them.
    * ``task_instructions``: give queries (and texts of symmetric tasks) the task's MTEB instruction; by default on
      exactly when the model has an instruction template (``query_instruction_format`` other than ``"{}{}"``, such
      as BGE's LLM embedders' ``"<instruct>{}\\n<query>{}"``).
    """

    mteb_model_meta: ModelMeta

    def __init__(self, model: str | os.PathLike[str] | AbsEmbedder, revision: str | None = None, *,
                 device: str | None = None, model_prompts: dict[str, str] | None = None,
                 task_instructions: bool | None = None, name: str | None = None, **options: Any) -> None:
        self.model = embedder_from(model, **factory_options(device, options))
        self.batch_size: int | None = options.get("batch_size")
        if model_prompts:
            # as MTEB's own wrapper does: keys that name no task, task type or prompt type are warned about, dropped
            model_prompts, _ = AbsEncoder.validate_task_to_prompt_name(model_prompts, raise_for_invalid_keys=False)
        self.model_prompts = model_prompts or None
        templated = self.model.query_instruction_format != _PLAIN_FORMAT
        self.task_instructions = templated if task_instructions is None else bool(task_instructions)
        uses_instructions = bool(self.model_prompts or self.task_instructions or self.model.prompts
                                 or self.model.query_instruction_for_retrieval
                                 or self.model.passage_instruction_for_retrieval)
        self.mteb_model_meta = embedder_meta(self.model, type(self), name=name, revision=revision,
                                             use_instructions=uses_instructions)

    def instruction_for(self, task_metadata: TaskMetadata, prompt_type: PromptType | None) -> str | None:
        """The instruction this task's texts of ``prompt_type`` get in place of the model's own, or None to keep the
        model's. First a ``model_prompts`` entry, resolved in MTEB's order (task name + type, task name, task type
        + prompt type, task type, prompt type); then, with ``task_instructions``, MTEB's instruction for the task
        (its metadata's ``prompt``, else the task type's default), never for documents, as MTEB's instruction
        models do. An empty prompt means the texts exactly as they are."""
        if self.model_prompts:
            prompt = get_prompt(self.model_prompts, task_metadata, prompt_type)
            if prompt is not None:
                return prompt
        if self.task_instructions and prompt_type != PromptType.document:
            return self.get_instruction(task_metadata, prompt_type) or None
        return None

    def encode(self, inputs: Any, *, task_metadata: TaskMetadata, hf_split: str, hf_subset: str,
               prompt_type: PromptType | None = None, **kwargs: Any) -> np.ndarray:
        """The dense vectors of the DataLoader's texts, ``(n, dim)`` float32 (or the ``precision`` MTEB asks
        for), on the side ``prompt_type`` names."""
        if prompt_type is not None and prompt_type not in (PromptType.query, PromptType.document):
            raise ValueError(f"prompt_type={prompt_type!r}: MTEB's prompt types are query, document or None")
        texts = texts_of(inputs, type(self).__name__)
        if not texts:
            return np.zeros((0, self.model.embedding_dim), dtype=np.float32)
        options = {**call_options(kwargs, self.batch_size, embedding=True), "outputs": (DENSE,),
                   "convert_to_numpy": True}
        work = self._prepare(texts, prompt_type, self.instruction_for(task_metadata, prompt_type), options)
        return np.asarray(self.model.infer(work).dense)

    def _prepare(self, texts: list[str], prompt_type: PromptType | None, instruction: str | None,
                 options: dict[str, Any]) -> Any:
        """The model's prepared work for the texts: its own side call, with ``instruction`` standing in for the
        side's instruction when there is one."""
        model = self.model
        if prompt_type is None:
            if instruction is None:
                return model.prepare_encode(texts, **options)
            fmt = _PLAIN_FORMAT if instruction == "" else model.query_instruction_format
            return model.prepare_encode(texts, instruction=instruction, instruction_format=fmt, **options)
        query = prompt_type == PromptType.query
        if instruction == "":
            return model.prepare_encode(texts, instruction="", task="query" if query else "document",
                                        max_length=model.query_max_length if query else model.passage_max_length,
                                        **options)
        if instruction is None:
            return model.prepare_side(texts, query=query, **options)
        with _side_instruction(model, query, instruction):
            return model.prepare_side(texts, query=query, **options)

    def similarity(self, embeddings1: Any, embeddings2: Any) -> Any:
        """Every pair's score, MTEB's cosine or dot product as the model declares, else the model's own
        (euclidean, manhattan: negative distances, as sentence-transformers gives them)."""
        if self.mteb_model_meta.similarity_fn_name is not None:
            return super().similarity(embeddings1, embeddings2)
        import torch

        return self.model.similarity(torch.as_tensor(embeddings1).float(), torch.as_tensor(embeddings2).float())

    def similarity_pairwise(self, embeddings1: Any, embeddings2: Any) -> Any:
        """Row ``i`` of ``embeddings1`` against row ``i`` of ``embeddings2``, with the similarity of
        :meth:`similarity`."""
        if self.mteb_model_meta.similarity_fn_name is not None:
            return super().similarity_pairwise(embeddings1, embeddings2)
        import torch

        first, second = torch.as_tensor(embeddings1).float(), torch.as_tensor(embeddings2).float()
        pairs = zip(first, second, strict=True)
        return torch.stack([self.model.similarity(a[None], b[None])[0, 0] for a, b in pairs])

    def __repr__(self) -> str:
        return f"FlagcoreEncoder({self.model!r}, name={self.mteb_model_meta.name!r})"


@contextmanager
def _side_instruction(model: AbsEmbedder, query: bool, instruction: str) -> Iterator[None]:
    """The model's query (or passage) instruction set to ``instruction`` for one prepare call. Set on the model
    rather than passed, because families build a side's text in their own ``prepare_queries`` (the ICL family puts
    its few-shot examples around the instructed query): this keeps each family's construction."""
    attribute = "query_instruction_for_retrieval" if query else "passage_instruction_for_retrieval"
    saved = getattr(model, attribute)
    setattr(model, attribute, instruction)
    try:
        yield
    finally:
        setattr(model, attribute, saved)
