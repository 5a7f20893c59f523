"""Deterministic tiny random decoder-only causal LMs for the LLM parity tests (embedder, ICL embedder, reranker).

    python tests/parity/tiny_decoders.py OUT_DIR

writes OUT_DIR/{tiny-llama, tiny-mistral, tiny-qwen2, tiny-qwen3, tiny-gemma, tiny-gemma2}: ``*ForCausalLM``
checkpoints (2 layers, hidden 64, 4 heads / 2 KV heads, fp32 ``model.safetensors`` with the ``model.`` prefix and,
where the embeddings are not tied, ``lm_head.weight``). FlagLLMModel / FlagICLModel load them with ``AutoModel``
(the ``model.`` prefix is stripped, the head ignored), FlagLLMReranker with ``AutoModelForCausalLM``.

Every file is written by this module from a fixed recipe: the weights come from a seeded torch generator (not from
transformers' initialisers, which change between versions) and go through safetensors; config.json and the
tokenizer files are JSON dumped here (tokenizer.json is written in the `tokenizers` serialization format by hand,
not by ``Tokenizer.save``, so a new `tokenizers` release cannot change the bytes). Same torch ⇒ byte-identical files.

The tokenizers are small byte-level BPEs (all 256 bytes plus 400 merges learned here, deterministically, from
``CORPUS``; so any text, CJK and emoji included, tokenises without <unk>), laid out as the real model families
lay out theirs:

* tiny-llama (LlamaForCausalLM): ``<unk>`` 0, ``<s>`` 1, ``</s>`` 2 at the front of the vocabulary; ``<s>``
  prepended by the post-processor, no EOS appended; pad ``</s>``, right padding.
* tiny-mistral (MistralForCausalLM; e5-mistral / SFR / Linq / bge-en-icl layout): same tokens; pad ``<unk>``,
  left padding.
* tiny-qwen2 (Qwen2ForCausalLM; gte-Qwen2 layout): no BOS; ``<|endoftext|>`` (eos and pad), ``<|im_start|>``,
  ``<|im_end|>`` after the BPE vocabulary; ByteLevel post-processor (nothing added); right padding. The config's
  vocab_size is rounded up to a multiple of 64, as Qwen checkpoints carry embedding rows past the tokenizer.
* tiny-qwen3 (Qwen3ForCausalLM; Qwen3-Embedding layout): as tiny-qwen2 but eos ``<|im_end|>`` and a
  post-processor that appends ``<|endoftext|>`` to every sequence; left padding.
* tiny-gemma (GemmaForCausalLM; bge-reranker-v2-gemma): ``<pad>`` 0, ``<eos>`` 1, ``<bos>`` 2, ``<unk>`` 3,
  ``<mask>`` 4; ``<bos>`` prepended, no EOS; pad ``<pad>``, right padding.
* tiny-gemma2 (Gemma2ForCausalLM; bge-multilingual-gemma2): same tokenizer, left padding; attention softcap 50 and
  final-logit softcap 30 as the real model.

Llama/Mistral/Gemma use GPT-2's byte-level pipeline (``ByteLevel`` pre-tokenizer with its regex and decoder) and
``tokenizer_class: PreTrainedTokenizerFast``; the Qwen roles use Qwen2's real pipeline (NFC, Qwen's split regex,
``ByteLevel`` without regex) and ``tokenizer_class: Qwen2Tokenizer``. "Yes" is a single token (the reranker scores
``tok('Yes', add_special_tokens=False).input_ids[0]``); ``<instruct>``, ``<query>``, ``<response>`` are three
tokens each (``<``, word, ``>``); ``<s>`` / ``</s>`` are single special tokens for Llama/Mistral and plain text
(3 and 4 byte-level tokens) elsewhere, which is what FlagICLModel's hard-coded length corrections then measure.

transformers 4.57.6 versus 5.x, checked by tokenising every parity text (and the ICL / reranker strings) in both
virtualenvs — ids with and without special tokens, truncated ids, ``batch_decode`` of truncated ids, pad id, pad
side and ``tokenizer.pad(..., pad_to_multiple_of=8)``: **the six tokenizers here give identical results in both**.
The choices above are what makes that so; the variants below were tried too (``python tests/parity/tiny_decoders.py
--differences SCRATCH`` builds them and prints their ids; run it under both versions and compare):

* ``add_eos_token: true`` in tokenizer_config.json (e5-mistral / SFR-Mistral style): transformers 4's
  ``LlamaTokenizerFast`` appends ``</s>`` (4.57.6: ``[1, 446, 47, 634, 36, 2]``), transformers 5 does not
  (``[1, 446, 47, 634, 36]``, ``tok.add_eos_token`` is False): 5 drops the flag, whether the class becomes
  ``LlamaTokenizer`` (``model_type`` llama) or the generic ``TokenizersBackend`` (``model_type`` mistral, where 5
  maps tokenizers to ``TokenizersBackend`` when mistral_common is not installed). Also seen with a
  SentencePiece-style (Metaspace, byte fallback) tokenizer.json. With ``PreTrainedTokenizerFast`` neither version
  appends. So on 5 the last token of an e5-mistral-style input is the last text token, on 4 it is ``</s>``:
  FlagLLMModel embeddings of such models differ between the two (the tiny models here do not set the flag).
* ``tokenizer_class: GemmaTokenizerFast`` over a byte-level tokenizer.json: transformers 5 rebuilds the tokenizer
  with ``GemmaTokenizer``'s own pipeline (only vocab, merges and post-processor come from tokenizer.json; spaces
  become "▁", byte fallback) ⇒ different ids with ``<unk>`` for "Hello, world!" (``[2, 448, 49, 3, 124, 302, 392,
  38]`` vs 4's ``[2, 448, 49, 636, 38]``). Hence ``PreTrainedTokenizerFast`` for the Gemma roles.
* ``tokenizer_class: LlamaTokenizerFast`` over a byte-level tokenizer.json: transformers 5 notices ("tokenizer.json
  is ByteLevel; loading TokenizersBackend") and keeps the file's pipeline: same ids (but no EOS, as above).
* ``model_type`` qwen2/qwen3: transformers 5 uses ``Qwen2Tokenizer`` whatever tokenizer_config names (qwen2 is in
  its list of models with a "known incorrect" hub tokenizer class) and rebuilds normalizer / pre-tokenizer / decoder
  from the class; a Qwen tokenizer.json therefore has to carry Qwen2's exact pipeline to tokenise alike in 4 and 5
  (the Qwen roles do). The post-processor is kept from the file in both: the Qwen3-Embedding template appending
  ``<|endoftext|>`` survives in 5, also with ``add_eos_token: false`` in the config.

Model weights: ``AutoModel`` reads the base model out of each ``*ForCausalLM`` checkpoint (``model.`` prefix
stripped, ``lm_head.weight`` reported unexpected and ignored) and ``AutoModelForCausalLM`` all of it, in both
versions; hidden states and logits are bit-identical between 4.57.6 and 5.x for Llama, Mistral, Qwen2, Qwen3 and
Gemma. **Gemma2 is not**: transformers 4.57.6 loads it with SDPA attention by default, and its SDPA path ignores
``attn_logit_softcapping`` (50.0 here, as in the real models); transformers 5 loads it with eager attention (SDPA is
refused for Gemma2), which applies the softcap. Hidden states differ by ~2e-3; 5 with ``attn_logit_softcapping=None``
in the config reproduces 4's default to ~2e-6. So FlagEmbedding 1.4.2 on transformers 4 computes
bge-multilingual-gemma2 without attention softcapping, and the tiny-gemma2 references record exactly that.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

try:
    from .tiny_models import digest
except ImportError:  # run as a script, or imported with tests/parity on sys.path (make_references.py)
    from tiny_models import digest

HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FFN, MAX_POSITIONS = 64, 2, 4, 2, 16, 128, 4096
N_MERGES = 400

# role: (model_type, tokenizer style, padding side, weight seed)
ROLE_SPECS = {
    "tiny-llama": ("llama", "llama", "right", 11),
    "tiny-mistral": ("mistral", "mistral", "left", 12),
    "tiny-qwen2": ("qwen2", "qwen2", "right", 13),
    "tiny-qwen3": ("qwen3", "qwen3", "left", 14),
    "tiny-gemma": ("gemma", "gemma", "right", 15),
    "tiny-gemma2": ("gemma2", "gemma", "left", 16),
}
ROLES = tuple(ROLE_SPECS)

CORPUS = """\
Given a query A and a passage B, determine whether the passage contains an answer to the query by providing a
prediction of either 'Yes' or 'No'. Yes. No. Yes, it does. No, it does not. Yes
Instruct: Given a web search query, retrieve relevant passages that answer the query
Query: what is the capital of France? Query: how do pandas eat? Query: how much protein should a female eat
<instruct>Given a question, retrieve passages that answer the question.
<query>what is the capital of france
<response>Paris is the capital of France.
<instruct>Retrieve the answer to the question.
<query>summit define
<response>The highest point of a mountain; the top of a hill.
<s> </s> <s> </s> A: B: A: the query B: the passage
Represent this sentence for searching relevant passages: the quick brown fox jumps over the lazy dog.
Giant pandas eat bamboo. Paris is the capital and most populous city of France. Beijing is the capital of China.
This is a long passage about retrieval, embeddings and rerankers, which must be truncated. Sentence one of the
passage. Sentence two of the passage. Hello, world! Line one, line two, line four. The population of China is over
1.4 billion people. A much longer query about the embedding of queries and passages, and the retrieval of documents
with an instruction and examples for the task. Mixed text and English words, repeated words, emoji test, tab
separated text, leading and trailing spaces, a single string, one short passage, the answer to the question.
"""


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable character table (printable Latin-1 bytes map to themselves)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def learn_merges(text: str, n_merges: int = N_MERGES) -> list[tuple[str, str]]:
    """Plain BPE over the byte-level words of ``text``: most frequent pair first, ties broken by the pair itself."""
    table = bytes_to_unicode()
    counts: dict[tuple[str, ...], int] = {}
    for word in re.findall(r" ?[A-Za-z]+| ?[0-9]| ?[^\sA-Za-z0-9]+|\s+", text):
        symbols = tuple(table[b] for b in word.encode("utf-8"))
        counts[symbols] = counts.get(symbols, 0) + 1
    merges = []
    for _ in range(n_merges):
        pairs: dict[tuple[str, str], int] = {}
        for symbols, count in counts.items():
            for pair in zip(symbols, symbols[1:], strict=False):
                pairs[pair] = pairs.get(pair, 0) + count
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        merged: dict[tuple[str, ...], int] = {}
        for symbols, count in counts.items():
            out, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + count
        counts = merged
    return merges


QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|"
              r"\s+(?!\S)|\s+")
SPECIALS = {  # tokenizer style: (specials before the bytes, specials after the merges)
    "llama": (["<unk>", "<s>", "</s>"], []),
    "mistral": (["<unk>", "<s>", "</s>"], []),
    "gemma": (["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"], []),
    "qwen2": ([], ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
    "qwen3": ([], ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]),
}
SPECIAL_ROLES = {  # tokenizer style: special_tokens_map
    "llama": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"},
    "mistral": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<unk>"},
    "gemma": {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>",
              "mask_token": "<mask>"},
    "qwen2": {"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
}


def _template(single: list[str], pair: list[str], specials: dict[str, int]) -> dict:
    def piece(item: str, type_id: int) -> dict:
        if item.startswith("$"):
            return {"Sequence": {"id": item[1:], "type_id": type_id}}
        return {"SpecialToken": {"id": item, "type_id": type_id}}

    return {
        "type": "TemplateProcessing",
        "single": [piece(x, 0) for x in single],
        "pair": [piece(x, 0 if i < len(pair) // 2 else 1) for i, x in enumerate(pair)],
        "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in specials.items()},
    }


def tokenizer_files(style: str, padding_side: str, merges: list[tuple[str, str]]) -> dict[str, dict]:
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json of one tokenizer style, as dicts."""
    before, after = SPECIALS[style]
    vocab: dict[str, int] = {}
    for token in [*before, *bytes_to_unicode().values(), *(a + b for a, b in merges)]:
        vocab.setdefault(token, len(vocab))
    ids = {t: vocab[t] for t in before}
    ids.update({t: len(vocab) + i for i, t in enumerate(after)})
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for t, i in ids.items()]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    if style.startswith("qwen"):
        normalizer = {"type": "NFC"}
        pre_tokenizer = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN_SPLIT}, "behavior": "Isolated", "invert": False},
            {**byte_level, "use_regex": False}]}
        if style == "qwen3":  # Qwen3-Embedding: the tokenizer appends <|endoftext|> itself
            post = _template(["$A", "<|endoftext|>"], ["$A", "<|endoftext|>", "$B", "<|endoftext|>"],
                             {"<|endoftext|>": ids["<|endoftext|>"]})
        else:
            post = {**byte_level, "trim_offsets": False}
    else:
        normalizer, pre_tokenizer = None, byte_level
        bos = "<bos>" if style == "gemma" else "<s>"
        post = _template([bos, "$A"], [bos, "$A", bos, "$B"], {bos: ids[bos]})
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": normalizer, "pre_tokenizer": pre_tokenizer, "post_processor": post,
        "decoder": {**byte_level, "add_prefix_space": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [list(m) for m in merges]},
    }
    special_map = dict(SPECIAL_ROLES[style])
    config = {
        "tokenizer_class": "Qwen2Tokenizer" if style.startswith("qwen") else "PreTrainedTokenizerFast",
        "model_max_length": 32768, "padding_side": padding_side, "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": {str(e["id"]): {k: v for k, v in e.items() if k != "id"} for e in added},
        **({"bos_token": None, "unk_token": None, "add_prefix_space": False, "errors": "replace",
            "split_special_tokens": False} if style.startswith("qwen") else {}),
        **special_map,
    }
    return {"tokenizer.json": tokenizer, "tokenizer_config.json": config, "special_tokens_map.json": special_map}


def model_config(model_type: str, vocab_size: int, specials: dict[str, int]) -> dict:
    config = {
        "model_type": model_type, "vocab_size": vocab_size, "hidden_size": HIDDEN, "intermediate_size": FFN,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS,
        "head_dim": HEAD_DIM, "max_position_embeddings": MAX_POSITIONS, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "attention_dropout": 0.0, "initializer_range": 0.02, "use_cache": True, "torch_dtype": "float32",
    }
    if model_type in ("llama", "mistral"):
        config.update(hidden_act="silu", tie_word_embeddings=False, bos_token_id=specials["<s>"],
                      eos_token_id=specials["</s>"], attention_bias=False, mlp_bias=False)
        if model_type == "mistral":
            config.update(sliding_window=None)
            del config["mlp_bias"]
        config["architectures"] = ["LlamaForCausalLM" if model_type == "llama" else "MistralForCausalLM"]
    elif model_type in ("qwen2", "qwen3"):
        config.update(hidden_act="silu", tie_word_embeddings=True, bos_token_id=specials["<|endoftext|>"],
                      eos_token_id=specials["<|endoftext|>" if model_type == "qwen2" else "<|im_end|>"],
                      use_sliding_window=False, sliding_window=None, max_window_layers=LAYERS)
        if model_type == "qwen3":
            config.update(attention_bias=False)
        config["architectures"] = ["Qwen2ForCausalLM" if model_type == "qwen2" else "Qwen3ForCausalLM"]
    else:
        config.update(hidden_activation="gelu_pytorch_tanh", hidden_act="gelu_pytorch_tanh", tie_word_embeddings=True,
                      bos_token_id=specials["<bos>"], eos_token_id=specials["<eos>"], pad_token_id=specials["<pad>"],
                      attention_bias=False)
        if model_type == "gemma2":
            config.update(query_pre_attn_scalar=HEAD_DIM, sliding_window=4096, final_logit_softcapping=30.0,
                          attn_logit_softcapping=50.0)
        config["architectures"] = ["GemmaForCausalLM" if model_type == "gemma" else "Gemma2ForCausalLM"]
    return config


def _weights(config: dict, seed: int) -> dict:
    import torch
    import transformers

    cls = getattr(transformers, config["architectures"][0])
    config_cls = transformers.AutoConfig.for_model(config["model_type"]).__class__
    model = cls(config_cls(**{k: v for k, v in config.items() if k not in ("model_type", "architectures")}))
    gemma = config["model_type"].startswith("gemma")  # Gemma's RMSNorm scales by (1 + weight)
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, value in sorted(model.state_dict().items()):
        if not value.is_floating_point() or (name == "lm_head.weight" and config["tie_word_embeddings"]):
            continue
        noise = torch.randn(value.shape, generator=generator, dtype=torch.float32)
        if "norm" in name and value.dim() == 1:
            tensors[name] = (0.0 if gemma else 1.0) + 0.1 * noise
        elif name.endswith("bias"):
            tensors[name] = 0.02 * noise
        else:
            tensors[name] = 0.1 * noise
    return {k: v.contiguous() for k, v in tensors.items()}


def _dump(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build(out_dir: Path, roles: tuple[str, ...] = ROLES) -> dict[str, Path]:
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    merges = learn_merges(CORPUS)
    built = {}
    for role in roles:
        model_type, style, padding_side, seed = ROLE_SPECS[role]
        folder = out_dir / role
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        files = tokenizer_files(style, padding_side, merges)
        for name, data in files.items():
            _dump(folder / name, data)
        specials = {e["content"]: e["id"] for e in files["tokenizer.json"]["added_tokens"]}
        vocab_size = max([*files["tokenizer.json"]["model"]["vocab"].values(), *specials.values()]) + 1
        if style.startswith("qwen"):
            vocab_size = (vocab_size + 63) // 64 * 64  # Qwen checkpoints have embedding rows past the tokenizer
        config = model_config(model_type, vocab_size, specials)
        _dump(folder / "config.json", dict(sorted(config.items())))
        save_file(_weights(config, seed), str(folder / "model.safetensors"), metadata={"format": "pt"})
        built[role] = folder
    return built


def version_differences(scratch: Path) -> dict[str, list]:
    """Ids of tokenizer variants that transformers 4 and 5 treat differently (see the module docstring)."""
    from transformers import AutoTokenizer

    merges = learn_merges(CORPUS)
    variants = {
        "llama-as-LlamaTokenizerFast": ("llama", {"tokenizer_class": "LlamaTokenizerFast"}),
        "gemma-as-GemmaTokenizerFast": ("gemma", {"tokenizer_class": "GemmaTokenizerFast"}),
        "llama-add_eos_token": ("llama", {"add_bos_token": True, "add_eos_token": True}),
        "llama-LlamaTokenizerFast-add_eos_token": ("llama", {"tokenizer_class": "LlamaTokenizerFast",
                                                             "add_bos_token": True, "add_eos_token": True}),
        "qwen3-add_eos_token-false": ("qwen3", {"add_bos_token": False, "add_eos_token": False}),
        "qwen2-as-PreTrainedTokenizerFast": ("qwen2", {"tokenizer_class": "PreTrainedTokenizerFast"}),
    }
    texts = ["Hello, world!", "Yes", " two  spaces", "emoji 🙂 and 北京", "<s>x</s>\n<response>"]
    found = {}
    for name, (style, extra) in variants.items():
        folder = scratch / name
        folder.mkdir(parents=True, exist_ok=True)
        files = tokenizer_files(style, "right", merges)
        files["tokenizer_config.json"].update(extra)
        for file_name, data in files.items():
            _dump(folder / file_name, data)
        model_type = {"llama": "llama", "gemma": "gemma", "qwen2": "qwen2", "qwen3": "qwen3"}[style]
        _dump(folder / "config.json", {"model_type": model_type})
        tok = AutoTokenizer.from_pretrained(str(folder))
        found[name] = [type(tok).__name__, *[tok(t).input_ids for t in texts]]
    return found


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--differences":
        import transformers

        print("transformers", transformers.__version__)
        for variant, ids in version_differences(Path(sys.argv[2])).items():
            print(variant, json.dumps(ids))
        sys.exit(0)
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for role, folder in build(Path(sys.argv[1])).items():
        print(role, folder, digest(folder))
