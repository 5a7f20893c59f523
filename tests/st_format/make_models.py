"""Tiny random models saved by sentence-transformers 6.3.0 itself, and its outputs for them (the references).

    .nox/st-current/bin/python tests/st_format/make_models.py      (or: nox -s st_references)

rebuilds tests/st_format/models/<case>/ (one folder per case, written by ``SentenceTransformer.save`` /
``CrossEncoder.save`` of sentence-transformers 6.3.0 with ``create_model_card=False``) and
tests/st_format/references.json (what sentence-transformers 6.3.0 computes for them on the CPU in fp32, each folder
loaded back from disk). It needs a virtualenv with sentence-transformers==6.3.0 (transformers 5, torch 2.13 CPU).

The backbones (hidden 32, 2 layers, 2 heads, intermediate 32) are built here with small vocabularies, so that all
folders together stay under 4 MB:

* BERT / DistilBERT / MPNet: a cased WordPiece vocabulary (~300 tokens) of the specials, every printable ASCII
  character, its ``##`` continuation for letters and digits, a few suffixes and ``WORDS``; max_position_embeddings
  64 (XLM-R / MPNet 66: their positions start after the padding index), tokenizer model_max_length 64, so the long
  text is truncated everywhere. The cross-encoders are a BertForSequenceClassification (num_labels=1).
* XLM-R: tests/parity/tiny_models.py's small Unigram vocabulary in XLM-R's id layout.
* ModernBERT: a byte-level BPE (256 bytes, ``BPE_MERGES`` merges learned from the texts here, [UNK] [CLS] [SEP]
  [PAD] [MASK] after them), ``PreTrainedTokenizerFast`` as the real ModernBERT; layer 1 is a sliding-window layer
  (local_attention 16), which the 64-token long text exceeds.
* Qwen3: tests/parity/tiny_decoders.py's tiny-qwen3 recipe (Qwen3ForCausalLM checkpoint; Qwen3-Embedding tokenizer:
  byte-level BPE, ``<|endoftext|>`` appended by the post-processor, LEFT padding) at hidden 32 and ``QWEN_MERGES``
  merges and max_position_embeddings 128 (sentence-transformers caps the tokenizer there: the long text is
  truncated, the appended <|endoftext|> kept), read by sentence-transformers as a feature-extraction model
  (AutoModel: the lm_head is not saved).

Every weight, of the backbones and of the Dense / LayerNorm modules, comes from a seeded torch generator (not from
initialisers), so a rerun writes the same files and the same references. Two cases are rewritten after the 6.3 save
into the format sentence-transformers 2.x-4.x wrote (``bert-legacy``, ``bert-legacy-multi``); 6.3 still reads it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"
REFERENCES = HERE / "references.json"
sys.path.insert(0, str(HERE.parent / "parity"))

import tiny_decoders  # noqa: E402
import tiny_models  # noqa: E402

HIDDEN, LAYERS, HEADS, FFN, MAX_POSITIONS = 32, 2, 2, 32, 64
BPE_MERGES = 120
QWEN_MERGES = 150

LONG_TEXT = (
    "This is a long passage about retrieval, embeddings and rerankers, which must be truncated by every model with "
    "a short maximum sequence length. The quick brown fox jumps over the lazy dog while the giant panda eats bamboo "
    "in the forest. Paris is the capital of France and Berlin is the capital of Germany. Sentence embeddings map "
    "each text to a vector, and similar texts get similar vectors. A cross encoder reads the query and the passage "
    "together and returns one score for the pair."
)
TEXTS = [
    "What is the capital of France?",
    "Paris is the capital and largest city of France.",
    "Pandas eat BAMBOO.",
    "a",
    LONG_TEXT,
    "MiXeD Case Text WITH Capitals",
]
PAIRS = [
    ["What is the capital of France?", "Paris is the capital and largest city of France."],
    ["What is the capital of France?", "Pandas eat BAMBOO."],
    ["How do pandas eat?", "The giant panda eats bamboo in the forest."],
    ["a", "MiXeD Case Text WITH Capitals"],
    ["Which model reads the query and the passage together?", LONG_TEXT],
]
RANK_QUERY = "What is the capital of France?"
RANK_DOCUMENTS = TEXTS[1:]
QWEN_QUERY_PROMPT = "Instruct: Given a web search query, retrieve relevant passages\nQuery:"

WORDS = """
the of and to in is it that was for on are with as be at from or by not but all were when we there can an if will
up out then many some so would other into has more two like see time could no make than first been who now people
what capital france paris city large pandas panda eat eats bamboo this long passage about embed rerank truncat
retriev which must every model short maximum sequence length quick brown fox jumps over lazy dog while giant forest
berlin germany sentence map each text vector similar get cross encoder reads query together returns one score pair
how do mixed case classify instruct given web search relevant
""".split()
CAPITALIZED = ["What", "Paris", "France", "Pandas", "This", "The", "Berlin", "Germany", "Sentence", "A", "How",
               "Which", "Case", "Text"]
SUFFIXES = ["##s", "##es", "##ed", "##ing", "##er", "##ly", "##ion", "##al", "##st", "##ding", "##ers"]
WORDPIECE_SPECIALS = {  # style: (specials first, trailing specials, tokenizer_config roles)
    "bert": (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], [],
             {"cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]", "pad_token": "[PAD]",
              "mask_token": "[MASK]"}),
    "mpnet": (["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"],
              {"bos_token": "<s>", "eos_token": "</s>", "cls_token": "<s>", "sep_token": "</s>", "unk_token": "<unk>",
               "pad_token": "<pad>", "mask_token": "<mask>"}),
}
TOKENIZER_CLASSES = {"bert": "BertTokenizer", "distilbert": "DistilBertTokenizer", "mpnet": "MPNetTokenizer"}
MODERNBERT_SPECIALS = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]


# --- backbones ------------------------------------------------------------------------------------------------------


def _dump(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def wordpiece_tokenizer(folder: Path, style: str) -> int:
    """A cased WordPiece tokenizer (tokenizer.json, vocab.txt, tokenizer_config.json); returns the vocabulary size."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    first, last, roles = WORDPIECE_SPECIALS["mpnet" if style == "mpnet" else "bert"]
    chars = [chr(c) for c in range(33, 127)]
    vocab: list[str] = []
    for token in [*first, *chars, *("##" + c for c in chars if c.isalnum()), *SUFFIXES, *WORDS, *CAPITALIZED, *last]:
        if token not in vocab:
            vocab.append(token)
    ids = {t: i for i, t in enumerate(vocab)}
    tokenizer = Tokenizer(models.WordPiece(ids, unk_token=roles["unk_token"], max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                      lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    cls, sep = roles["cls_token"], roles["sep_token"]
    if style == "mpnet":
        tokenizer.post_processor = processors.RobertaProcessing((sep, ids[sep]), (cls, ids[cls]))
    else:
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{cls}:0 $A:0 {sep}:0", pair=f"{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1",
            special_tokens=[(cls, ids[cls]), (sep, ids[sep])])
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in [*first, *last]])
    tokenizer.save(str(folder / "tokenizer.json"))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    _dump(folder / "tokenizer_config.json", {"tokenizer_class": TOKENIZER_CLASSES[style], "do_lower_case": False,
                                             "model_max_length": MAX_POSITIONS, **roles})
    return len(vocab)


def bpe_tokenizer(folder: Path) -> dict[str, int]:
    """A byte-level BPE with ModernBERT's [CLS] $A [SEP] template; returns the special token ids."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    merges = tiny_decoders.learn_merges(" ".join([*TEXTS, *(p for pair in PAIRS for p in pair), *WORDS]), BPE_MERGES)
    vocab: dict[str, int] = {}
    for token in [*tiny_decoders.bytes_to_unicode().values(), *(a + b for a, b in merges), *MODERNBERT_SPECIALS]:
        vocab.setdefault(token, len(vocab))
    tokenizer = Tokenizer(models.BPE(vocab, merges, dropout=None, unk_token=None, fuse_unk=False))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in MODERNBERT_SPECIALS])
    tokenizer.save(str(folder / "tokenizer.json"))
    _dump(folder / "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 512, "clean_up_tokenization_spaces": True,
        "model_input_names": ["input_ids", "attention_mask"], "cls_token": "[CLS]", "sep_token": "[SEP]",
        "unk_token": "[UNK]", "pad_token": "[PAD]", "mask_token": "[MASK]"})
    return {t: vocab[t] for t in MODERNBERT_SPECIALS} | {"vocab_size": len(vocab)}


def seeded_weights(model, seed: int, scales: dict[str, float] | None = None) -> None:
    """Overwrite every floating parameter/buffer of ``model`` from a seeded generator (sorted by name): norm weights
    1 + 0.1·N(0,1), biases 0.02·N(0,1), everything else 0.1·N(0,1) (or ``scales[name]``·N(0,1))."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    state = model.state_dict()
    new = {}
    for name, value in sorted(state.items()):
        if not value.is_floating_point():
            continue
        noise = torch.randn(value.shape, generator=generator, dtype=torch.float32)
        if value.dim() == 1 and "norm" in name.lower() and name.endswith("weight"):
            new[name] = 1.0 + 0.1 * noise
        elif name.endswith("bias"):
            new[name] = 0.02 * noise
        else:
            new[name] = (scales or {}).get(name, 0.1) * noise
    result = model.load_state_dict(new, strict=False)
    if result.unexpected_keys or set(result.missing_keys) - {k for k, v in state.items() if not v.is_floating_point()}:
        raise RuntimeError(f"seeded weights do not cover the model: {result}")


def seeded_module(module, seed: int, scale: float = 0.25):
    """Set the weights of a Dense / LayerNorm module from a seeded generator: 2-D weights scale·N(0,1), LayerNorm
    weights 1 + 0.1·N(0,1), biases 0.1·N(0,1). Returns the module."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(module.named_parameters()):
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float32)
            if param.dim() == 1 and name.endswith("weight"):
                param.copy_(1.0 + 0.1 * noise)
            elif param.dim() == 1:
                param.copy_(0.1 * noise)
            else:
                param.copy_(scale * noise)
    return module


def _save_backbone(model, folder: Path, seed: int, scales: dict[str, float] | None = None) -> None:
    seeded_weights(model, seed, scales)
    model.save_pretrained(str(folder))


def build_backbones(root: Path) -> dict[str, Path]:
    """The base models (a transformers checkpoint + tokenizer per folder) the cases wrap."""
    import transformers as tf

    common = {"hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
              "intermediate_size": FFN, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1}
    folders = {}
    for name in ("bert", "bert-reranker", "distilbert", "mpnet", "xlmr", "modernbert"):
        folder = root / name
        folder.mkdir(parents=True)
        folders[name] = folder
    # BERT (embedder) and BERT for sequence classification (cross-encoders), same vocabulary
    for name, seed in (("bert", 101), ("bert-reranker", 102)):
        vocab_size = wordpiece_tokenizer(folders[name], "bert")
        config = tf.BertConfig(vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS, type_vocab_size=2,
                               pad_token_id=0, layer_norm_eps=1e-12, **common)
        if name == "bert":
            _save_backbone(tf.BertModel(config), folders[name], seed)
        else:
            config.num_labels = 1  # a larger classifier, so that the scores of the pairs spread out
            _save_backbone(tf.BertForSequenceClassification(config), folders[name], seed, {"classifier.weight": 0.6})
    vocab_size = wordpiece_tokenizer(folders["distilbert"], "distilbert")
    config = tf.DistilBertConfig(vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS, dim=HIDDEN,
                                 n_layers=LAYERS, n_heads=HEADS, hidden_dim=FFN, activation="gelu", dropout=0.1,
                                 attention_dropout=0.1, pad_token_id=0)
    _save_backbone(tf.DistilBertModel(config), folders["distilbert"], 103)
    vocab_size = wordpiece_tokenizer(folders["mpnet"], "mpnet")
    config = tf.MPNetConfig(vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS + 2, pad_token_id=1,
                            bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, relative_attention_num_buckets=32,
                            **common)
    _save_backbone(tf.MPNetModel(config), folders["mpnet"], 104)
    vocab_size = tiny_models._xlmr_tokenizer(folders["xlmr"])
    tokenizer_config = json.loads((folders["xlmr"] / "tokenizer_config.json").read_text())
    _dump(folders["xlmr"] / "tokenizer_config.json", {**tokenizer_config, "model_max_length": MAX_POSITIONS})
    config = tf.XLMRobertaConfig(vocab_size=vocab_size, max_position_embeddings=MAX_POSITIONS + 2, type_vocab_size=1,
                                 pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, **common)
    _save_backbone(tf.XLMRobertaModel(config), folders["xlmr"], 105)
    ids = bpe_tokenizer(folders["modernbert"])
    config = tf.ModernBertConfig(
        vocab_size=ids["vocab_size"], hidden_size=HIDDEN, intermediate_size=FFN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, max_position_embeddings=512, local_attention=16, global_attn_every_n_layers=2,
        pad_token_id=ids["[PAD]"], bos_token_id=ids["[CLS]"], eos_token_id=ids["[SEP]"], cls_token_id=ids["[CLS]"],
        sep_token_id=ids["[SEP]"])
    _save_backbone(tf.ModernBertModel(config), folders["modernbert"], 106)
    folders["qwen3"] = root / "qwen3"
    folders["qwen3"].mkdir()
    qwen3_backbone(folders["qwen3"])
    return folders


def qwen3_backbone(folder: Path) -> None:
    """tiny_decoders' tiny-qwen3 recipe (Qwen3ForCausalLM checkpoint, Qwen3-Embedding tokenizer: byte-level BPE,
    <|endoftext|> appended by the post-processor, left padding) at hidden 32 with fewer merges, to stay small."""
    from safetensors.torch import save_file

    files = tiny_decoders.tokenizer_files("qwen3", "left", tiny_decoders.learn_merges(tiny_decoders.CORPUS,
                                                                                       QWEN_MERGES))
    for name, data in files.items():
        tiny_decoders._dump(folder / name, data)
    specials = {e["content"]: e["id"] for e in files["tokenizer.json"]["added_tokens"]}
    vocab_size = (max([*files["tokenizer.json"]["model"]["vocab"].values(), *specials.values()]) + 1 + 63) // 64 * 64
    config = tiny_decoders.model_config("qwen3", vocab_size, specials)
    config.update(hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_attention_heads=2, num_key_value_heads=1,
                  head_dim=16, max_position_embeddings=128)
    tiny_decoders._dump(folder / "config.json", dict(sorted(config.items())))
    save_file(tiny_decoders._weights(config, 14), str(folder / "model.safetensors"), metadata={"format": "pt"})


# --- cases ----------------------------------------------------------------------------------------------------------


def _modules():
    from sentence_transformers.base.modules import Dense, Normalize, Router, Transformer
    from sentence_transformers.sentence_transformer.modules import LayerNorm, Pooling

    return Transformer, Pooling, Dense, Normalize, Router, LayerNorm


def build_case(case: str, bases: dict[str, Path]):
    """The in-memory sentence-transformers model of one case, before saving."""
    import torch
    from sentence_transformers import CrossEncoder, SentenceTransformer

    Transformer, Pooling, Dense, Normalize, Router, LayerNorm = _modules()
    bert = str(bases["bert"])

    def embedder(modules, **kwargs):
        return SentenceTransformer(modules=modules, device="cpu", **kwargs)

    def dense(n_in, n_out, seed, **kwargs):
        return seeded_module(Dense(n_in, n_out, **kwargs), seed)

    simple = {"bert-mean": "mean", "bert-cls": "cls", "bert-max": "max", "bert-weightedmean": "weightedmean",
              "bert-mean-sqrt-len": "mean_sqrt_len_tokens", "bert-lasttoken": "lasttoken",
              "bert-cls-mean": ("cls", "mean")}
    if case in simple:
        pooling = Pooling(HIDDEN, pooling_mode=simple[case])
        modules = [Transformer(bert), pooling] + ([] if case == "bert-cls" else [Normalize()])
        return embedder(modules)
    if case == "bert-dense":
        return embedder([Transformer(bert), Pooling(HIDDEN, "mean"), dense(HIDDEN, 16, 201), Normalize()])
    if case == "bert-dense-layernorm":
        return embedder([Transformer(bert), Pooling(HIDDEN, "cls"),
                         dense(HIDDEN, 24, 202, bias=False, activation_function=torch.nn.Identity()),
                         seeded_module(LayerNorm(24), 203)])
    if case == "bert-dense-gelu":
        return embedder([Transformer(bert), Pooling(HIDDEN, "mean"),
                         dense(HIDDEN, HIDDEN, 204, activation_function=torch.nn.GELU()), Normalize()])
    if case == "bert-prompts":
        return embedder([Transformer(bert), Pooling(HIDDEN, "mean"), Normalize()],
                        prompts={"query": "query: ", "document": "passage: ", "classification": "classify: "},
                        default_prompt_name="classification", similarity_fn_name="dot")
    if case == "bert-prompts-exclude":
        return embedder([Transformer(bert), Pooling(HIDDEN, "mean", include_prompt=False)],
                        prompts={"query": "query: ", "document": "passage: "})
    if case == "bert-lasttoken-exclude":
        return embedder([Transformer(bert), Pooling(HIDDEN, "lasttoken", include_prompt=False), Normalize()],
                        prompts={"query": "query: "})
    if case == "bert-weightedmean-exclude":
        return embedder([Transformer(bert), Pooling(HIDDEN, "weightedmean", include_prompt=False), Normalize()],
                        prompts={"query": "query: ", "document": "passage: "})
    if case == "bert-maxlen":
        return embedder([Transformer(bert, max_seq_length=16, do_lower_case=True), Pooling(HIDDEN, "mean"),
                         Normalize()], similarity_fn_name="euclidean")
    if case == "bert-router":
        router = Router.for_query_document(query_modules=[dense(HIDDEN, 16, 205)],
                                           document_modules=[dense(HIDDEN, 16, 206)])
        return embedder([Transformer(bert), Pooling(HIDDEN, "mean"), router, Normalize()])
    if case == "bert-legacy":
        return embedder([Transformer(bert), Pooling(HIDDEN, "mean"), dense(HIDDEN, 16, 207), Normalize()])
    if case == "bert-legacy-multi":
        return embedder([Transformer(bert), Pooling(HIDDEN, ("cls", "mean")), dense(2 * HIDDEN, 16, 208),
                         Normalize()])
    if case == "xlmr-mean":
        return embedder([Transformer(str(bases["xlmr"])), Pooling(HIDDEN, "mean"), Normalize()])
    if case == "mpnet-mean":
        return embedder([Transformer(str(bases["mpnet"])), Pooling(HIDDEN, "mean"), Normalize()])
    if case == "modernbert-cls":
        return embedder([Transformer(str(bases["modernbert"]), max_seq_length=64), Pooling(HIDDEN, "cls"),
                         Normalize()])
    if case == "distilbert-mean-dense":
        return embedder([Transformer(str(bases["distilbert"])), Pooling(HIDDEN, "mean"), dense(HIDDEN, 8, 209)])
    if case == "qwen3-lasttoken":
        return embedder([Transformer(str(bases["qwen3"])), Pooling(HIDDEN, "lasttoken"), Normalize()],
                        prompts={"query": QWEN_QUERY_PROMPT, "document": ""})
    if case == "cross-encoder-sigmoid":
        return CrossEncoder(str(bases["bert-reranker"]), device="cpu")
    if case == "cross-encoder-identity":
        return CrossEncoder(str(bases["bert-reranker"]), device="cpu", activation_fn=torch.nn.Identity())
    raise KeyError(case)


CASES = (
    "bert-mean", "bert-cls", "bert-max", "bert-weightedmean", "bert-mean-sqrt-len", "bert-lasttoken", "bert-cls-mean",
    "bert-dense", "bert-dense-layernorm", "bert-dense-gelu",
    "bert-prompts", "bert-prompts-exclude", "bert-lasttoken-exclude", "bert-weightedmean-exclude",
    "bert-maxlen", "bert-router", "bert-legacy", "bert-legacy-multi",
    "xlmr-mean", "mpnet-mean", "modernbert-cls", "distilbert-mean-dense", "qwen3-lasttoken",
    "cross-encoder-sigmoid", "cross-encoder-identity",
)
CROSS_ENCODERS = ("cross-encoder-sigmoid", "cross-encoder-identity")

LEGACY_POOLING_KEYS = ("pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
                       "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                       "pooling_mode_lasttoken")
LEGACY = {  # case: (sentence_bert_config.json, pooling modes, Dense weights file, config_sentence_transformers.json)
    "bert-legacy": (
        {"max_seq_length": 20, "do_lower_case": False}, ("pooling_mode_mean_tokens",), "pytorch_model.bin",
        {"__version__": {"sentence_transformers": "2.2.2", "transformers": "4.28.1", "pytorch": "2.0.0+cu118"},
         "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None}),
    "bert-legacy-multi": (
        {"max_seq_length": 24, "do_lower_case": True}, ("pooling_mode_cls_token", "pooling_mode_mean_tokens"),
        "model.safetensors",
        {"__version__": {"sentence_transformers": "3.0.1", "transformers": "4.41.2", "pytorch": "2.3.0+cu121"},
         "prompts": {}, "default_prompt_name": None, "similarity_fn_name": None}),
}


def to_legacy(case: str, folder: Path) -> None:
    """Rewrite a 6.3 save (Transformer, Pooling, Dense, Normalize) into the sentence-transformers 2.x-4.x format."""
    import torch
    from safetensors.torch import load_file

    sbert_config, modes, dense_file, st_config = LEGACY[case]
    names = ["Transformer", "Pooling", "Dense", "Normalize"]
    _dump(folder / "modules.json", [{"idx": i, "name": str(i), "path": "" if i == 0 else f"{i}_{name}",
                                     "type": f"sentence_transformers.models.{name}"} for i, name in enumerate(names)])
    _dump(folder / "sentence_bert_config.json", sbert_config)
    _dump(folder / "config_sentence_transformers.json", st_config)
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    _dump(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": pooling["embedding_dimension"],
        **{key: key in modes for key in LEGACY_POOLING_KEYS}, "include_prompt": True})
    dense = json.loads((folder / "2_Dense" / "config.json").read_text())
    _dump(folder / "2_Dense" / "config.json", {key: dense[key] for key in ("in_features", "out_features", "bias")}
          | {"activation_function": "torch.nn.modules.activation.Tanh"})
    if dense_file == "pytorch_model.bin":
        state = load_file(str(folder / "2_Dense" / "model.safetensors"))
        (folder / "2_Dense" / "model.safetensors").unlink()
        torch.save({key: state[key] for key in ("linear.weight", "linear.bias")},
                   folder / "2_Dense" / "pytorch_model.bin")
    # sentence-transformers 2.x-4.x wrote nothing for Normalize: the Hub folders have no 3_Normalize
    shutil.rmtree(folder / "3_Normalize")


# --- references -----------------------------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def load(case: str, folder: Path):
    """Load a saved folder with sentence-transformers 6.3, failing on any warning about weights."""
    from sentence_transformers import CrossEncoder, SentenceTransformer

    handler = _Records()
    loggers = [logging.getLogger(), logging.getLogger("transformers"), logging.getLogger("sentence_transformers")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cls = CrossEncoder if case in CROSS_ENCODERS else SentenceTransformer
            model = cls(str(folder), device="cpu")
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    messages = handler.messages + [str(w.message) for w in caught]
    bad = [m for m in messages if any(word in m.lower() for word in
                                      ("missing", "newly initialized", "unexpected", "not used", "not initialized"))]
    if bad:
        raise RuntimeError(f"{case}: loading warned about weights: {bad}")
    return model, messages


def _floats(array) -> list:
    import numpy as np

    return np.asarray(array, dtype=np.float32).astype(np.float64).tolist()


def embedder_references(model) -> dict:
    encode = model.encode(TEXTS, convert_to_numpy=True)
    query = model.encode_query(TEXTS, convert_to_numpy=True)
    document = model.encode_document(TEXTS, convert_to_numpy=True)
    dimension = (model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                 else model.get_sentence_embedding_dimension())
    return {
        "kind": "embedder", "texts": TEXTS, "encode": _floats(encode), "encode_query": _floats(query),
        "encode_document": _floats(document), "similarity": _floats(model.similarity(query, document)),
        "similarity_fn_name": model.similarity_fn_name, "dimension": dimension, "max_seq_length": model.max_seq_length,
        "prompts": dict(model.prompts), "default_prompt_name": model.default_prompt_name,
    }


def cross_encoder_references(model) -> dict:
    import torch
    from sentence_transformers.util import fullname

    predict = model.predict(PAIRS, convert_to_numpy=True)
    raw = model.predict(PAIRS, activation_fn=torch.nn.Identity(), convert_to_numpy=True)
    ranked = model.rank(RANK_QUERY, RANK_DOCUMENTS)
    return {
        "kind": "cross-encoder", "pairs": PAIRS, "predict": _floats(predict), "predict_raw": _floats(raw),
        "rank_query": RANK_QUERY, "rank_documents": RANK_DOCUMENTS,
        "rank": [[int(hit["corpus_id"]), float(hit["score"])] for hit in ranked],
        "activation": fullname(model.activation_fn), "max_seq_length": model.max_seq_length,
        "num_labels": model.num_labels,
    }


NOTES = {
    "bert-maxlen": "built with Transformer(max_seq_length=16, do_lower_case=True); 6.3 saves max_seq_length only as "
                   "tokenizer_config.json model_max_length and do_lower_case only as a Lowercase normalizer in "
                   "tokenizer.json, which transformers 5's BertTokenizer rebuilds away on load: the references "
                   "(computed from the saved folder) are NOT lowercased",
    "bert-legacy": "6.3 reads prompts {query, passage} and adds an empty 'document' prompt, which encode_document "
                   "prefers over 'passage'",
    "bert-legacy-multi": "legacy sentence_bert_config.json with do_lower_case true: 6.3 lowercases (Lowercase "
                         "normalizer added at load)",
    "bert-router": "encode() without a task takes the Router's default route ('document')",
    "modernbert-cls": "layer 1 uses ModernBERT local attention with a window of 16 (8 each side)",
}


def main() -> None:
    import numpy as np
    import sentence_transformers
    import torch
    import transformers

    if sentence_transformers.__version__ != "6.3.0":
        sys.exit(f"needs sentence-transformers 6.3.0, found {sentence_transformers.__version__}")
    torch.set_num_threads(1)
    transformers.utils.logging.disable_progress_bar()
    if MODELS.exists():
        shutil.rmtree(MODELS)
    MODELS.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        bases = build_backbones(Path(tmp))
        for case in CASES:
            model = build_case(case, bases)
            model.save(str(MODELS / case), create_model_card=False)
            if case in LEGACY:
                to_legacy(case, MODELS / case)
            del model
    references = {"sentence_transformers": sentence_transformers.__version__,
                  "transformers": transformers.__version__, "torch": torch.__version__, "numpy": np.__version__,
                  "device": "cpu", "dtype": "float32", "cases": {}}
    for case in CASES:
        model, messages = load(case, MODELS / case)
        with torch.inference_mode():
            entry = cross_encoder_references(model) if case in CROSS_ENCODERS else embedder_references(model)
        if case in NOTES:
            entry["note"] = NOTES[case]
        references["cases"][case] = entry
        print(case, "loaded", f"({len(messages)} other warnings)" if messages else "")
    REFERENCES.write_text(json.dumps(references, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote", REFERENCES)


if __name__ == "__main__":
    main()
