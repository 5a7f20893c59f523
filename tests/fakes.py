"""A weight-free model family for testing the core: a word-hash tokenizer and an embedding-table model."""

from __future__ import annotations

import os
from types import SimpleNamespace

import torch

from flagcore import AbsEmbedder, AbsReranker, Claim, Evidence, hookimpl

VOCAB, HIDDEN, CLS, SEP, PAD = 101, 8, 1, 2, 0


def word_id(word: str) -> int:
    return 3 + sum(ord(c) * (i + 1) for i, c in enumerate(word)) % (VOCAB - 3)


class FakeTokenizer:
    model_input_names = ["input_ids", "attention_mask"]
    pad_token_id = PAD
    padding_side = "right"

    def ids(self, text: str) -> list[int]:
        return [word_id(w) for w in text.split()]

    def __call__(self, texts, truncation=True, max_length=512, padding=False, add_special_tokens=True):
        rows = []
        for text in texts:
            ids = self.ids(text)
            if add_special_tokens:
                ids = [CLS, *ids[: max(max_length - 2, 0)], SEP]
            elif truncation:
                ids = ids[:max_length]
            rows.append(ids)
        return {"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]}


class FakeModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.embed = torch.nn.Embedding(VOCAB, HIDDEN)
        with torch.no_grad():
            self.embed.weight.copy_(torch.randn(VOCAB, HIDDEN, generator=generator))
        self.score_head = torch.nn.Linear(HIDDEN, 1)
        with torch.no_grad():
            self.score_head.weight.copy_(torch.randn(1, HIDDEN, generator=generator))
            self.score_head.bias.fill_(0.25)
        self.config = SimpleNamespace(hidden_size=HIDDEN)
        self.forward_calls = 0

    def forward(self, input_ids, attention_mask):
        self.forward_calls += 1
        return self.embed(input_ids) * attention_mask.unsqueeze(-1)


def reference_embedding(text: str, max_length: int = 512, pooling: str = "mean") -> torch.Tensor:
    """What FakeEmbedder must return for one text, computed without any batching."""
    ids = torch.tensor(FakeTokenizer()([text], max_length=max_length)["input_ids"][0])
    hidden = FakeModel().embed(ids)
    vector = hidden.mean(0) if pooling == "mean" else hidden[0]
    return torch.nn.functional.normalize(vector, dim=-1).detach()


def reference_score(query: str, passage: str, max_length: int = 512) -> float:
    ids = FakeReranker.pair_ids(FakeTokenizer(), query, passage, max_length * 3 // 4, max_length)
    model = FakeModel()
    return float(model.score_head(model.embed(torch.tensor(ids)).mean(0)).item())


class FakeEmbedder(AbsEmbedder):
    def __init__(self, model_name_or_path, pooling_method: str = "cls", fail_outside_pid: int | None = None,
                 **kwargs) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.pooling_method = pooling_method
        self.fail_outside_pid = fail_outside_pid  # makes worker processes of a device pool fail, for tests
        self.tokenizer = FakeTokenizer()
        self.model = FakeModel()

    def embed_batch(self, batch, **options):
        if self.fail_outside_pid is not None and os.getpid() != self.fail_outside_pid:
            raise ValueError(f"simulated failure in process {os.getpid()}")
        hidden = self.model(batch["input_ids"], batch["attention_mask"])
        if self.pooling_method == "cls":
            return hidden[:, 0]
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return (hidden * mask).sum(1) / mask.sum(1)


class FakeReranker(AbsReranker):
    def __init__(self, model_name_or_path, **kwargs) -> None:
        super().__init__(model_name_or_path, **kwargs)
        self.tokenizer = FakeTokenizer()
        self.model = FakeModel()

    @staticmethod
    def pair_ids(tokenizer, query, passage, query_max_length, max_length):
        q = tokenizer.ids(query)[:query_max_length]
        p = tokenizer.ids(passage)[: max(max_length - len(q) - 3, 0)]
        return [CLS, *q, SEP, *p, SEP]

    def tokenize_pairs(self, pairs, query_max_length, max_length):
        ids = [self.pair_ids(self.tokenizer, q, p, query_max_length, max_length) for q, p in pairs]
        return {"input_ids": ids, "attention_mask": [[1] * len(r) for r in ids]}

    def score_batch(self, batch, **options):
        hidden = self.model(batch["input_ids"], batch["attention_mask"])
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return self.model.score_head((hidden * mask).sum(1) / mask.sum(1)).squeeze(-1)


class FakeFamily:
    """Claims names starting with 'fake-' and directories whose config says model_type 'fakebert'."""

    __name__ = "fake-family"

    @hookimpl
    def register_model_classes(self, register):
        register.add_embedder("fake-embedder", FakeEmbedder, description="test embedder")
        register.add_reranker("fake-reranker", FakeReranker)

    @hookimpl
    def claim_embedder(self, probe):
        if probe.name.startswith("fake-"):
            return Claim("fake-embedder", Evidence.NAME, "name starts with 'fake-'", {"pooling_method": "mean"})
        if probe.model_type == "fakebert":
            return Claim("fake-embedder", Evidence.ARCHITECTURE, "config.json model_type is fakebert")
        return None

    @hookimpl
    def claim_reranker(self, probe):
        if probe.name.startswith("fake-"):
            return Claim("fake-reranker", Evidence.NAME, "name starts with 'fake-'")
        return None


class OneClassPlugin:
    """A plugin registering one embedder class and claiming models (all, or those ``when`` accepts) for it."""

    def __init__(self, name, model_class, score=Evidence.NAME, defaults=None, *, cls=FakeEmbedder, register=True,
                 when=None):
        self.__name__ = name
        self.model_class, self.score, self.defaults = model_class, score, defaults or {}
        self.cls, self.register, self.when = cls, register, when

    @hookimpl
    def register_model_classes(self, register):
        if self.register:
            register.add_embedder(self.model_class, self.cls)

    @hookimpl
    def claim_embedder(self, probe):
        if self.when is not None and not self.when(probe):
            return None
        return Claim(self.model_class, self.score, f"{self.__name__} claims it", self.defaults)
