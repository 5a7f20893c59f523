"""Importing flagcore and resolving a model must not import torch, transformers or a family's heavy module."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # every test here starts a Python subprocess

SITE = Path(__file__).parent / "fixtures" / "site_plugins"

SCRIPT = r"""
import json, sys
import flagcore
seen = {"after_import": sorted(m for m in ("torch", "transformers", "numpy") if m in sys.modules)}
resolution = flagcore.resolve("demo-model", "embedder")
flagcore.explain("demo-model")
flagcore.list_plugins()
seen["chosen"] = resolution.model_class
seen["after_resolve"] = sorted(m for m in ("torch", "transformers", "flagcore_demo_heavy") if m in sys.modules)
model = flagcore.FlagAutoModel.from_finetuned("demo-model", devices="cpu")
seen["built"] = type(model).__name__
seen["after_build"] = sorted(m for m in ("torch", "flagcore_demo_heavy") if m in sys.modules)
print(json.dumps(seen))
"""


def run(script: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SITE), os.environ.get("PYTHONPATH", "")]),
           "FLAGCORE_LOAD_PLUGINS": "demo"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_and_resolution_are_light_and_the_family_loads_when_chosen():
    seen = run(SCRIPT)
    assert seen["after_import"] == []
    assert seen["chosen"] == "demo-embedder"
    assert seen["after_resolve"] == []
    assert seen["built"] == "DemoEmbedder"
    assert seen["after_build"] == ["flagcore_demo_heavy", "torch"]


def test_the_documented_one_liner():
    out = subprocess.run([sys.executable, "-c", "import flagcore, sys; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
