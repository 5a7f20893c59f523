"""PseudoMoEEmbedder (``decoder-only-pseudo_moe``): FlagEmbedding's FlagPseudoMoEModel.

A decoder whose repository code routes through domain experts: the domain comes from the call
(``domain_for_pseudo_moe=``, else ``domain=``), else the constructor; the model's ``set_domain`` is called when it
has one, and ``domain=`` is passed to its forward (a model whose forward does not take it runs without). Pooled
vectors have NaN and infinities replaced (0, ±1e4) and are normalised in float32. The model's code is its
repository's own, so the caller must pass ``trust_remote_code=True``; flagcore never turns it on.
"""

from __future__ import annotations

from typing import Any

from flagcore.family import accelerators, pool, resolve_devices

from .claims import LAST_TOKEN, PSEUDO_MOE_CLASS
from .embedder import LLMEmbedder


class PseudoMoEEmbedder(LLMEmbedder):
    """An LLM embedder with domain routing. Defaults to bf16 off the CPU and fp32 on a CPU, as everywhere
    (``use_bf16=True`` opts into the CPU bf16 path)."""

    call_options = frozenset({"domain_for_pseudo_moe", "domain"})
    forward_options: dict[str, Any] = {}  # repository code: only the arguments FlagEmbedding passes
    backends = ("torch",)  # repository code with routed experts: not traced for OpenVINO

    def __init__(self, model_name_or_path: str, use_fp16: bool = False, use_bf16: bool | None = None,
                 domain_for_pseudo_moe: str | None = None, trust_remote_code: bool = False, **kwargs: Any) -> None:
        if not trust_remote_code:
            raise ValueError(
                f"{PSEUDO_MOE_CLASS} runs the model repository's own code (its domain routing); flagcore runs it only "
                "when you pass trust_remote_code=True, after checking that you trust that repository")
        self.domain_for_pseudo_moe = domain_for_pseudo_moe
        if use_bf16 is None:  # FlagEmbedding's default is bf16: kept off the CPU only
            use_bf16 = bool(accelerators(resolve_devices(kwargs.get("devices"))))
        super().__init__(model_name_or_path, use_fp16=use_fp16, use_bf16=use_bf16, trust_remote_code=True, **kwargs)

    def embed_batch(self, batch: dict[str, Any], domain_for_pseudo_moe: str | None = None,
                    domain: str | None = None, **options: Any) -> Any:
        import torch

        chosen = next((d for d in (domain_for_pseudo_moe, domain, self.domain_for_pseudo_moe) if d is not None), None)
        if chosen is not None and hasattr(self.model, "set_domain"):
            self.model.set_domain(chosen)
        try:
            hidden = self.token_embeddings(batch, **({"domain": chosen} if chosen is not None else {}))
        except TypeError:  # a forward without a domain argument
            hidden = self.token_embeddings(batch)
        pooled = pool(hidden, batch["attention_mask"], LAST_TOKEN)
        return torch.nan_to_num(pooled, nan=0.0, posinf=1e4, neginf=-1e4).float()
