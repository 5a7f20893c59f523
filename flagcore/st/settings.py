"""What an embedder takes from its model's sentence-transformers files, decided once for every family: the default
pooling, prompts, max length, normalisation, truncation and similarity, and the head of modules after the
transformer. Arguments the caller gives always win; a model of FlagEmbedding's name table keeps FlagEmbedding's
behaviour (its files are not applied)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..known_models import known_model
from ..pooling import check_pooling
from ..probe import model_folder, model_name_from_reference
from .description import Description, has_description, read_description
from .files import SentenceTransformersFormatError, json_object
from .modules import NormalizeModule, PoolingModule

#: FlagEmbedding's default max length, for a model that declares none
DEFAULT_MAX_LENGTH = 512


@dataclass(frozen=True)
class DeclaredSettings:
    description: Description | None = None
    #: why a description present in the folder is not applied (a FlagEmbedding name), for ``flagcore explain``
    not_applied: str | None = None

    @classmethod
    def of(cls, reference: str | os.PathLike[str], cache_dir: str | None = None) -> DeclaredSettings:
        """The settings of a local folder, or of a hub id already in the Hugging Face cache (an id not in the cache
        is not downloaded to look)."""
        folder = model_folder(reference, cache_dir)
        if folder is None or not has_description(folder):
            return cls()
        name = model_name_from_reference(os.fspath(reference))
        if known_model(name, "embedder") is not None:
            return cls(None, f"{name!r} is in FlagEmbedding's name table: FlagEmbedding's behaviour is kept (its "
                             "sentence-transformers files are not applied)")
        return cls(read_description(folder, json_object(folder / "config.json")))

    # -- defaults ---------------------------------------------------------------------------------------------------
    @property
    def normalizes(self) -> bool:
        """Whether vectors are L2-normalised by default: FlagEmbedding's True, or whether the model's module chain
        ends with a Normalize."""
        return True if self.description is None else self.description.ends_normalized

    def max_length(self, task: str) -> int:
        length = self.description.max_length if self.description is not None else None
        return int(length.value) if length is not None else DEFAULT_MAX_LENGTH

    @property
    def truncate_dim(self) -> int | None:
        declared = self.description.truncate_dim if self.description is not None else None
        return None if declared is None else int(declared.value)

    @property
    def similarity_fn_name(self) -> str:
        declared = self.description.similarity_fn_name if self.description is not None else None
        return "cosine" if declared is None else str(declared.value)

    @property
    def prompts(self) -> dict[str, str]:
        """Every prompt the model declares, by name."""
        return {} if self.description is None else {name: str(text) for name, text in self.description.prompts.items()}

    def prompt(self, task: str | None) -> str | None:
        """The prompt the model declares for a task ("query", "document") or for plain ``encode`` (None)."""
        declared = self.description.prompt_for(task) if self.description is not None else None
        return None if declared is None else str(declared.value)

    @property
    def lower_case(self) -> bool:
        return self.description is not None and self.description.transformer.do_lower_case

    @property
    def tokenizer_settings(self) -> dict[str, str]:
        return dict(self.description.transformer.tokenizer_settings) if self.description is not None else {}

    def adjust_tokenizer(self, tokenizer: Any) -> None:
        """Apply what the Transformer module declares about its tokenizer: lower-casing (as a normalizer of the fast
        tokenizer, as sentence-transformers does) and the padding and truncation sides."""
        for key, value in self.tokenizer_settings.items():
            setattr(tokenizer, key, value)
        if not self.lower_case:
            return
        backend = getattr(tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise SentenceTransformersFormatError(
                f"{self.description.folder if self.description else ''}: do_lower_case needs a fast tokenizer "
                "(tokenizer.json)")
        from tokenizers import normalizers

        current = backend.normalizer
        if current is None or "Lowercase" not in repr(current):
            steps = [normalizers.Lowercase()] + ([current] if current is not None else [])
            backend.normalizer = normalizers.Sequence(steps)

    # -- pooling and the head ---------------------------------------------------------------------------------------
    def pooling(self, explicit: str | None, owner: Any) -> str:
        """The caller's ``pooling_method`` (checked against the class's), else the model's single Pooling mode, else
        the class default."""
        if explicit is not None:
            return check_pooling(explicit, owner.pooling_methods, type(owner).__name__)
        pooling = self.description.pooling if self.description is not None else None
        if pooling is not None and len(pooling.modes) == 1:
            return pooling.modes[0]
        return str(owner.default_pooling_method)

    def head(self, explicit_pooling: str | None, owner: Any, computes_token_states: bool) -> Any:
        """The torch module applying the model's chain after the transformer (a trailing Normalize left to the
        ``normalize_embeddings`` step), or None when the model declares no chain. A family that pools on its own
        (no ``token_embeddings``) gets None when its own pooling is the model's chain, else a refusal naming the
        module it would skip."""
        if self.description is None:
            return None
        modules = self.description.head
        if modules and isinstance(modules[-1], NormalizeModule):
            modules = modules[:-1]
        if not computes_token_states:
            _check_family_pools_alike(self.description, modules, owner)
            return None
        from .head import build_head

        return build_head(self.description, modules, pooling_override=explicit_pooling)


def _check_family_pools_alike(description: Description, modules: tuple[Any, ...], owner: Any) -> None:
    pooling = modules[0] if len(modules) == 1 and isinstance(modules[0], PoolingModule) else None
    if pooling is not None and pooling.include_prompt and pooling.modes == (owner.pooling_method,):
        return
    skipped = next((m for m in modules if m is not pooling), pooling)
    what = f"{skipped.label} ({skipped.summary})" if skipped is not None else "module chain"
    raise SentenceTransformersFormatError(
        f"{description.folder / 'modules.json'}: {type(owner).__name__} pools by {owner.pooling_method!r} on its own "
        f"and cannot apply the model's {what}; "
        "load the model with a class that applies sentence-transformers modules (the encoder-only-base or "
        "decoder-only-base embedders), or save it without that module")

