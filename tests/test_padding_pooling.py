"""Left padding, last-token pooling and left truncation: the core pieces decoder-only families rely on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fakes import CLS, SEP, FakeEmbedder, FakeModel, FakeTokenizer, reference_embedding

from flagcore.engine.padding import pad_features
from flagcore.pairs import PairTemplate
from flagcore.pooling import pool

# --------------------------------------------------------------------------------------------------------------
# 1. left padding
# --------------------------------------------------------------------------------------------------------------

COLUMNS = {
    "input_ids": [[11, 12, 13], [21], [31, 32], []],
    "attention_mask": [[1, 1, 1], [1], [1, 1], []],
    "token_type_ids": [[1, 1, 1], [1], [1, 1], []],
}
PAD_VALUES = {"input_ids": 7, "attention_mask": 0}  # token_type_ids has no pad value: padded with 0


def test_pad_features_left_puts_pad_values_in_front_of_every_column():
    out = pad_features(COLUMNS, PAD_VALUES, padding_side="left")
    assert set(out) == set(COLUMNS)
    assert all(t.dtype == torch.int64 for t in out.values())
    assert out["input_ids"].tolist() == [[11, 12, 13], [7, 7, 21], [7, 31, 32], [7, 7, 7]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1], [0, 1, 1], [0, 0, 0]]
    assert out["token_type_ids"].tolist() == [[1, 1, 1], [0, 0, 1], [0, 1, 1], [0, 0, 0]]


def test_pad_features_right_puts_pad_values_after_every_row():
    out = pad_features(COLUMNS, PAD_VALUES, padding_side="right")
    assert out["input_ids"].tolist() == [[11, 12, 13], [21, 7, 7], [31, 32, 7], [7, 7, 7]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert out["token_type_ids"].tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0]]


def test_pad_features_left_with_pad_to_multiple_of_right_aligns_rows_in_the_rounded_width():
    out = pad_features(COLUMNS, PAD_VALUES, padding_side="left", pad_to_multiple_of=4)
    assert out["input_ids"].tolist() == [[7, 11, 12, 13], [7, 7, 7, 21], [7, 7, 31, 32], [7, 7, 7, 7]]
    assert out["attention_mask"].tolist() == [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 1, 1], [0, 0, 0, 0]]
    assert out["token_type_ids"].tolist() == [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 1, 1], [0, 0, 0, 0]]
    wide = pad_features(COLUMNS, PAD_VALUES, padding_side="left", pad_to_multiple_of=8)
    assert wide["input_ids"].shape == (4, 8)
    assert wide["input_ids"][0].tolist() == [7] * 5 + [11, 12, 13]
    assert wide["attention_mask"][:, -1].tolist() == [1, 1, 1, 0]


TEXTS = [
    "a short one",
    "this text is quite a bit longer than the others in the list",
    "mid length text here",
    "x",
    "",
    "another mid length text",
]
LEFT_PAD_ID = 99  # not the FakeTokenizer's 0, so the batch shows that pad_values() came from the tokenizer


class LeftPaddingTokenizer(FakeTokenizer):
    padding_side = "left"
    pad_token_id = LEFT_PAD_ID


class RecordingEmbedder(FakeEmbedder):
    """A FakeEmbedder that keeps a copy of every padded batch its embed_batch receives."""

    def __init__(self, *args, padding_side: str = "right", pooling_method: str = "mean", **kwargs) -> None:
        super().__init__(*args, pooling_method=pooling_method, **kwargs)
        if padding_side == "left":
            self.tokenizer = LeftPaddingTokenizer()
        self.seen: list[dict[str, torch.Tensor]] = []

    def embed_batch(self, batch, **options):
        self.seen.append({k: v.detach().cpu().clone() for k, v in batch.items()})
        if self.pooling_method == "last_token":
            hidden = self.model(batch["input_ids"], batch["attention_mask"])
            return pool(hidden, batch["attention_mask"], "last_token")
        return super().embed_batch(batch, **options)


def token_rows(texts):
    return FakeTokenizer()(texts)["input_ids"]


def assert_left_padded(batch, pad_id):
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert bool((mask[:, -1] == 1).all()), "every row must end in a real token"
    for row_ids, row_mask in zip(ids.tolist(), mask.tolist(), strict=True):
        n = sum(row_mask)
        width = len(row_mask)
        assert row_mask == [0] * (width - n) + [1] * n
        assert row_ids[: width - n] == [pad_id] * (width - n)
        assert row_ids[width - n] == CLS and row_ids[-1] == SEP


def test_left_padding_tokenizer_makes_the_model_see_left_padded_batches():
    model = RecordingEmbedder("fake-model", padding_side="left", devices="cpu", batch_size=3)
    assert model.padding_side == "left"
    assert model.pad_values()["input_ids"] == LEFT_PAD_ID
    model.encode(TEXTS)
    assert len(model.seen) == 2
    padded_rows = 0
    for batch in model.seen:
        assert_left_padded(batch, LEFT_PAD_ID)
        padded_rows += int((batch["attention_mask"][:, 0] == 0).sum())
    assert padded_rows >= 3  # rows of different lengths really were padded
    # the real tokens are those of the texts, whatever the order the batcher ran them in
    seen_rows = sorted(tuple(r[m.index(1):]) for b in model.seen
                       for r, m in zip(b["input_ids"].tolist(), b["attention_mask"].tolist(), strict=True))
    assert seen_rows == sorted(tuple(r) for r in token_rows(TEXTS))


def test_left_padding_with_pad_to_multiple_of_through_encode():
    model = RecordingEmbedder("fake-model", padding_side="left", devices="cpu", batch_size=3)
    model.encode(TEXTS, pad_to_multiple_of=8)
    assert model.seen
    for batch in model.seen:
        assert batch["input_ids"].shape[1] % 8 == 0
        assert_left_padded(batch, LEFT_PAD_ID)


def test_mean_pooled_embeddings_are_the_same_with_left_and_right_padding():
    left = RecordingEmbedder("fake-model", padding_side="left", devices="cpu", batch_size=3)
    right = RecordingEmbedder("fake-model", padding_side="right", devices="cpu", batch_size=3)
    out_left, out_right = left.encode(TEXTS), right.encode(TEXTS)
    expected = np.stack([reference_embedding(t).numpy() for t in TEXTS])
    np.testing.assert_allclose(out_left, expected, atol=1e-6)
    np.testing.assert_allclose(out_right, expected, atol=1e-6)
    # and the right-padded model really saw right padding: the two layouts differ
    assert any(bool((b["attention_mask"][:, -1] == 0).any()) for b in right.seen)
    assert all(bool((b["attention_mask"][:, -1] == 1).all()) for b in left.seen)


class DecoderLikeTokenizer(FakeTokenizer):
    """No closing SEP, so that the last real token differs from row to row (as in a decoder's prompt)."""

    def __call__(self, texts, truncation=True, max_length=512, padding=False, add_special_tokens=True):
        rows = [[CLS, *self.ids(text)][:max_length] for text in texts]
        return {"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]}


class LeftDecoderLikeTokenizer(DecoderLikeTokenizer):
    padding_side = "left"
    pad_token_id = LEFT_PAD_ID


@pytest.mark.parametrize("padding_side", ["left", "right"])
def test_last_token_embeddings_through_encode_are_each_texts_last_token(padding_side):
    model = RecordingEmbedder("fake-model", pooling_method="last_token", devices="cpu", batch_size=3)
    model.tokenizer = LeftDecoderLikeTokenizer() if padding_side == "left" else DecoderLikeTokenizer()
    out = model.encode(TEXTS)
    table = FakeModel().embed.weight.detach()
    expected = torch.stack([table[DecoderLikeTokenizer()([t])["input_ids"][0][-1]] for t in TEXTS])
    expected = torch.nn.functional.normalize(expected, dim=-1).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    last_column_real = [bool((b["attention_mask"][:, -1] == 1).all()) for b in model.seen]
    assert all(last_column_real) if padding_side == "left" else not all(last_column_real)


# --------------------------------------------------------------------------------------------------------------
# 2. last-token pooling
# --------------------------------------------------------------------------------------------------------------

def hidden_states(rows: int, width: int) -> torch.Tensor:
    return torch.randn(rows, width, 5, generator=torch.Generator().manual_seed(rows * 100 + width))


def mask_of(lengths, width, side):
    return torch.tensor([([1] * n + [0] * (width - n)) if side == "right" else ([0] * (width - n) + [1] * n)
                         for n in lengths])


def reference_last_token(hidden, lengths, side):
    width = hidden.shape[1]
    return torch.stack([hidden[i, (n - 1) if side == "right" else (width - 1)] for i, n in enumerate(lengths)])


@pytest.mark.parametrize("lengths", [
    [4, 2, 3],   # the first row ends in a real token, the others do not
    [2, 4, 1],   # a middle row ends in a real token
    [1, 3, 2],   # no row ends in a real token
])
def test_last_token_pooling_picks_each_rows_last_real_token_with_right_padding(lengths):
    hidden = hidden_states(len(lengths), 4)
    mask = mask_of(lengths, 4, "right")
    out = pool(hidden, mask, "last_token")
    assert out.shape == (len(lengths), 5)
    torch.testing.assert_close(out, reference_last_token(hidden, lengths, "right"), rtol=0, atol=0)
    # not the last position for the padded rows
    for i, n in enumerate(lengths):
        if n < 4:
            assert not torch.equal(out[i], hidden[i, -1])


def test_last_token_pooling_picks_the_last_position_with_left_padding():
    lengths = [2, 4, 1]
    hidden = hidden_states(3, 4)
    out = pool(hidden, mask_of(lengths, 4, "left"), "last_token")
    torch.testing.assert_close(out, reference_last_token(hidden, lengths, "left"), rtol=0, atol=0)
    # what a right-padding reading of the mask (length - 1) would pick is different
    for i, n in enumerate(lengths):
        if n < 4:
            assert not torch.equal(out[i], hidden[i, n - 1])


def test_last_token_pooling_of_full_length_rows_is_the_last_position():
    hidden = hidden_states(3, 6)
    out = pool(hidden, torch.ones(3, 6, dtype=torch.int64), "last_token")
    torch.testing.assert_close(out, hidden[:, -1], rtol=0, atol=0)


def test_mean_pooling_ignores_left_padding():
    lengths = [2, 4, 1]
    hidden = hidden_states(3, 4)
    out = pool(hidden, mask_of(lengths, 4, "left"), "mean")
    expected = torch.stack([hidden[i, 4 - n:].mean(0) for i, n in enumerate(lengths)])
    torch.testing.assert_close(out, expected)


# --------------------------------------------------------------------------------------------------------------
# 3. left truncation of pairs
# --------------------------------------------------------------------------------------------------------------

# a BERT-like layout: [CLS] query [SEP] passage [SEP], passage and closing [SEP] typed 1
TEMPLATE = PairTemplate(prefix=(101,), middle=(102,), suffix=(102,), first_type=0, second_type=1,
                        prefix_types=(0,), middle_types=(0,), suffix_types=(1,))
QUERY = [1, 2]
PASSAGE = list(range(10, 20))


def test_left_truncation_keeps_the_end_of_the_passage():
    ids, types = TEMPLATE.build(QUERY, PASSAGE, max_length=8, truncation_side="left")
    assert ids == [101, 1, 2, 102, 17, 18, 19, 102]
    assert types == [0, 0, 0, 0, 1, 1, 1, 1]


def test_right_truncation_keeps_the_start_of_the_passage():
    ids, types = TEMPLATE.build(QUERY, PASSAGE, max_length=8, truncation_side="right")
    assert ids == [101, 1, 2, 102, 10, 11, 12, 102]
    assert types == [0, 0, 0, 0, 1, 1, 1, 1]
    assert TEMPLATE.build(QUERY, PASSAGE, max_length=8) == (ids, types)  # right is the default


@pytest.mark.parametrize("side", ["left", "right"])
def test_pair_that_fits_is_not_truncated(side):
    ids, types = TEMPLATE.build(QUERY, PASSAGE, max_length=15, truncation_side=side)
    assert ids == [101, 1, 2, 102, *PASSAGE, 102]
    assert len(types) == len(ids)


@pytest.mark.parametrize("side", ["left", "right"])
def test_query_alone_too_long_is_trimmed_and_the_passage_dropped(side):
    query = list(range(30, 40))
    ids, types = TEMPLATE.build(query, PASSAGE, max_length=8, truncation_side=side)
    assert len(ids) == len(types) == 8
    assert ids[0] == 101 and ids[-2:] == [102, 102]  # nothing between the middle and the closing [SEP]
    kept = ids[1:-2]
    assert len(kept) == 5 and not set(kept) & set(PASSAGE)
    assert kept == query[:5]  # the query keeps its start (whatever the passage's truncation side)
    assert types == [0] * 7 + [1]


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("query_len", [0, 1, 4, 9])
@pytest.mark.parametrize("passage_len", [0, 1, 5, 20])
@pytest.mark.parametrize("max_length", [3, 4, 7, 12])
def test_built_pair_never_exceeds_max_length(side, query_len, passage_len, max_length):
    query, passage = list(range(30, 30 + query_len)), list(range(60, 60 + passage_len))
    ids, types = TEMPLATE.build(query, passage, max_length, truncation_side=side)
    assert len(ids) == len(types) <= max_length
    # as long as the passage is kept at all, it is trimmed only as much as needed
    if query_len + TEMPLATE.num_special < max_length:
        assert len(ids) == min(max_length, query_len + passage_len + TEMPLATE.num_special)


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from parity.tiny_models import minilm_dir
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir())


REAL_QUERY = "what is the capital of france"
REAL_PASSAGE = ("paris is the capital and largest city of france and it has many museums, "
                "wide boulevards and a famous iron tower near the river")


def test_pair_template_of_real_bert_tokenizer(minilm_tokenizer):
    template = PairTemplate.of(minilm_tokenizer)
    cls, sep = minilm_tokenizer.cls_token_id, minilm_tokenizer.sep_token_id
    assert template == PairTemplate(prefix=(cls,), middle=(sep,), suffix=(sep,), first_type=0, second_type=1,
                                    prefix_types=(0,), middle_types=(0,), suffix_types=(1,))


@pytest.mark.parametrize("side", ["left", "right"])
def test_pair_template_build_matches_the_tokenizers_own_only_second_truncation(minilm_tokenizer, side):
    tokenizer = minilm_tokenizer
    template = PairTemplate.of(tokenizer)
    query = tokenizer(REAL_QUERY, add_special_tokens=False)["input_ids"]
    passage = tokenizer(REAL_PASSAGE, add_special_tokens=False)["input_ids"]
    old_side = tokenizer.truncation_side
    tokenizer.truncation_side = side
    try:
        reference = tokenizer(REAL_QUERY, REAL_PASSAGE, truncation="only_second", max_length=16)
    finally:
        tokenizer.truncation_side = old_side
    ids, types = template.build(query, passage, 16, side)
    assert ids == reference["input_ids"] and types == reference["token_type_ids"]
    kept = ids[len(query) + 2:-1]
    assert kept == (passage[-len(kept):] if side == "left" else passage[:len(kept)])


@pytest.fixture(scope="module")
def cross_encoder(tiny_models):
    from flagcore_bge.reranker import CrossEncoderReranker

    return CrossEncoderReranker(tiny_models["tiny-bert-reranker"], devices="cpu")


def test_cross_encoder_with_left_truncation_keeps_the_passage_tail(cross_encoder):
    tokenizer = cross_encoder.tokenizer
    passage = tokenizer(REAL_PASSAGE, add_special_tokens=False)["input_ids"]
    query = tokenizer(REAL_QUERY, add_special_tokens=False)["input_ids"]
    tokenizer.truncation_side = "left"
    try:
        left = cross_encoder.tokenize_pairs([(REAL_QUERY, REAL_PASSAGE)], query_max_length=12, max_length=16)
        left_score = cross_encoder.compute_score([(REAL_QUERY, REAL_PASSAGE)], max_length=16)
    finally:
        tokenizer.truncation_side = "right"
    right = cross_encoder.tokenize_pairs([(REAL_QUERY, REAL_PASSAGE)], query_max_length=12, max_length=16)
    right_score = cross_encoder.compute_score([(REAL_QUERY, REAL_PASSAGE)], max_length=16)
    room = 16 - 3 - len(query)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert left["input_ids"][0] == [cls, *query, sep, *passage[-room:], sep]
    assert right["input_ids"][0] == [cls, *query, sep, *passage[:room], sep]
    assert left["token_type_ids"][0] == [0] * (len(query) + 2) + [1] * (room + 1)
    assert left["attention_mask"][0] == [1] * 16
    assert tokenizer.convert_ids_to_tokens(left["input_ids"][0][-3:-1]) == ["the", "river"]
    assert left_score != pytest.approx(right_score)  # the side reaches the scores
