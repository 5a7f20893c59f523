"""The outside plugin of examples/outside-plugin, used the way a third party would use it.

The example, flagcore and the bge family are built and installed (not editable) into a fresh virtualenv that sees
nothing of this checkout's environment; everything below runs in that virtualenv's interpreter and its ``flagcore``
command. Building the virtualenv pulls transformers and friends through pip, hence ``slow``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outside-plugin"
TORCH = "torch==2.13.0"  # a local CPU wheel: installed first so that nothing resolves a bare torch requirement
TEXTS = [
    "hi",
    "a much longer sentence about max pooling, padding tokens and what must never win the max",
    "what is the capital of france?",
]
# Run in the fresh virtualenv: builds every model the way a user would, writes the embeddings and what was built.
VENV_SCRIPT = textwrap.dedent("""
    import json
    import sys

    import numpy as np

    import flagcore

    max_dir, plain_dir, out = sys.argv[1:4]
    texts = json.loads(sys.argv[4])
    flagcore.list_plugins()
    report = {"heavy_after_discovery": sorted({"torch", "transformers"} & set(sys.modules))}


    def build(key, path, **options):
        model = flagcore.FlagAutoModel.from_finetuned(path, devices="cpu", **options)
        report[key] = {"class": f"{type(model).__module__}.{type(model).__qualname__}",
                       "pooling_method": model.pooling_method}
        np.save(f"{out}/{key}.npy", model.encode(texts))


    build("claimed", max_dir)
    build("forced", plain_dir, model_class="encoder-max-pool")
    build("plain", plain_dir)
    try:
        flagcore.FlagAutoModel.from_finetuned(plain_dir, model_class="encoder-max-pool", pooling_method="cls")
        report["wrong_pooling"] = "accepted"
    except ValueError as exc:
        report["wrong_pooling"] = f"{type(exc).__name__}: {exc}"
    with open(f"{out}/report.json", "w") as fh:
        json.dump(report, fh)
""")
MAX_POOL = "flagcore_example_maxpool.embedder.MaxPoolEmbedder"
ENCODER = "flagcore_bge.embedder.EncoderEmbedder"


def _clean_env(venv: Path) -> dict[str, str]:
    """This process's environment without anything that would let the checkout leak into the fresh virtualenv."""
    dropped = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_USER", "PIP_TARGET", "PIP_PREFIX",
               "FLAGCORE_LOAD_PLUGINS", "FLAGCORE_PREFER_PLUGINS"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["PATH"] = os.pathsep.join([str(_bin(venv, "")), env.get("PATH", "")])
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / name


def _run(args: list, env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    """Run outside the checkout: from its root, ``python -c`` would import the checkout's flagcore source."""
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (f"{' '.join(map(str, args))} exited with {done.returncode}\n"
                                  f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> dict:
    """A fresh virtualenv with torch, then flagcore, the bge family and the example from this checkout."""
    home = tmp_path_factory.mktemp("outside-plugin")
    folder = home / "venv"
    env = _clean_env(folder)
    _run([sys.executable, "-m", "venv", folder], env, home)
    python = _bin(folder, "python")
    _run([python, "-m", "pip", "install", "-q", TORCH], env, home, timeout=900)
    _run([python, "-m", "pip", "install", "-q", ROOT, ROOT / "plugins" / "bge", EXAMPLE], env, home, timeout=900)
    where = json.loads(_run([python, "-c", (
        "import importlib.util, json, flagcore, flagcore_bge, flagcore_example_maxpool; "
        "print(json.dumps({m.__name__: m.__file__ for m in (flagcore, flagcore_bge, flagcore_example_maxpool)} "
        "| {'m3': importlib.util.find_spec('flagcore_m3') is not None}))")], env, home))
    return {"home": home, "folder": folder, "python": python, "flagcore": _bin(folder, "flagcore"), "env": env,
            "where": where}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    """A tiny random BERT twice (with and without ``"embedding_pooling": "max"``) and reference embeddings computed
    here with transformers: each text on its own (no padding at all), max-pooled or CLS-pooled, L2-normalised; and
    the max over a padded batch with the padding left in, which a correct embedder must not give."""
    import numpy as np
    import torch
    from parity.tiny_models import minilm_dir
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("maxpool-models")
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    torch.manual_seed(20240607)
    model = BertModel(config).eval()
    plain = out / "tiny-plain-bert"
    model.save_pretrained(plain)
    tokenizer.save_pretrained(plain)
    claimed = out / "tiny-maxpool-bert"
    shutil.copytree(plain, claimed)
    config_json = json.loads((claimed / "config.json").read_text())
    config_json["embedding_pooling"] = "max"
    (claimed / "config.json").write_text(json.dumps(config_json, indent=2) + "\n")

    def normalized(x):
        return torch.nn.functional.normalize(x, dim=-1).numpy()

    with torch.inference_mode():
        alone = [model(**tokenizer([t], return_tensors="pt")).last_hidden_state[0] for t in TEXTS]
        padded = model(**tokenizer(TEXTS, return_tensors="pt", padding=True)).last_hidden_state
        refs = {
            "max": np.stack([normalized(h.amax(dim=0)) for h in alone]),
            "cls": np.stack([normalized(h[0]) for h in alone]),
            "max_with_padding": normalized(padded.amax(dim=1)),
        }
    assert not np.allclose(refs["max"], refs["max_with_padding"], atol=1e-3), "padding must matter for these texts"
    return {"claimed": claimed, "plain": plain, **refs}


@pytest.fixture(scope="module")
def built(venv, models, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("maxpool-outputs")
    script = out / "build_models.py"
    script.write_text(VENV_SCRIPT)
    _run([venv["python"], script, models["claimed"], models["plain"], out, json.dumps(TEXTS)], venv["env"], out)
    import numpy as np

    report = json.loads((out / "report.json").read_text())
    return {**report, **{key: np.load(out / f"{key}.npy") for key in ("claimed", "forced", "plain")},
            "classes": {key: report[key] for key in ("claimed", "forced", "plain")}}


def test_the_virtualenv_holds_built_copies_not_the_checkout(venv):
    folder = venv["folder"].resolve()
    for module, path in venv["where"].items():
        if module == "m3":
            continue
        assert Path(path).resolve().is_relative_to(folder), f"{module} comes from {path}, not the fresh virtualenv"
    assert venv["where"]["m3"] is False  # only what was installed there: flagcore, bge and the example


def test_discovery_imports_neither_torch_nor_transformers(built):
    assert built["heavy_after_discovery"] == []


def test_the_config_field_chooses_max_pooling(built, models):
    import numpy as np

    assert built["classes"]["claimed"] == {"class": MAX_POOL, "pooling_method": "max"}
    assert built["claimed"].shape == (len(TEXTS), 32)
    assert np.allclose(built["claimed"], models["max"], atol=1e-5)
    assert not np.allclose(built["claimed"], models["cls"], atol=1e-2)
    assert not np.allclose(built["claimed"], models["max_with_padding"], atol=1e-3)  # padding never wins the max


def test_model_class_forces_it_on_a_plain_bert_the_bge_family_would_take(built, models):
    import numpy as np

    assert built["classes"]["forced"] == {"class": MAX_POOL, "pooling_method": "max"}
    assert np.allclose(built["forced"], models["max"], atol=1e-5)
    assert built["classes"]["plain"] == {"class": ENCODER, "pooling_method": "cls"}
    assert np.allclose(built["plain"], models["cls"], atol=1e-5)


def test_a_pooling_method_other_than_max_is_refused(built):
    assert "pooling_method='cls' is not supported by encoder-max-pool" in built["wrong_pooling"]


def test_flagcore_plugins_lists_it_with_version_and_description(venv):
    description = re.search(r'^description = "(.*)"$', (EXAMPLE / "pyproject.toml").read_text(), re.M).group(1)
    out = _run([venv["flagcore"], "plugins"], venv["env"], venv["home"])
    plugin_table, class_table = out.strip().split("\n\n")
    rows = {line.split()[0]: line for line in plugin_table.splitlines()[2:]}
    assert set(rows) == {"bge", "maxpool"}, out
    assert rows["maxpool"].split()[1:4] == ["flagcore-example-maxpool", "0.1.0", "encoder-max-pool"], out
    assert rows["maxpool"].rstrip().endswith(description), out
    # the second table: each class with its plugin, the pooling methods it registered, and its description
    classes = {tuple(line.split()[:2]): line for line in class_table.splitlines()[2:]}
    assert classes[("embedder", "encoder-max-pool")].split()[2:4] == ["maxpool", "max"], out


def test_flagcore_explain_shows_both_claims_and_the_winner(venv, models):
    out = _run([venv["flagcore"], "explain", models["claimed"]], venv["env"], venv["home"])
    rows = [line.split() for line in out.splitlines() if re.match(r"\d+ ", line)]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        ("encoder-max-pool", "250", "architecture", "maxpool"),
        ("encoder-only-base", "210", "architecture", "bge"),
    ], out
    assert 'config.json has "embedding_pooling": "max"' in out
    assert ("Result: encoder-max-pool (flagcore_example_maxpool.embedder:MaxPoolEmbedder) from plugin 'maxpool', "
            "by highest score") in out

    out = _run([venv["flagcore"], "explain", models["plain"]], venv["env"], venv["home"])
    assert "encoder-max-pool" not in out and "Result: encoder-only-base" in out, out
