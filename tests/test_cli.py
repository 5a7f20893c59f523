from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from flagcore import plugin_registered
from flagcore.cli import main


def test_plugins_with_none_loaded(no_installed_plugins, capsys):
    assert main(["plugins"]) == 0
    assert "No flagcore plugins are loaded" in capsys.readouterr().out


def test_plugins_lists_names_distributions_and_classes(fake_family, capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "fake-family" in out and "(in-process)" in out and "fake-embedder" in out and "fake-reranker" in out


def test_explain_without_the_family_names_the_extra(no_installed_plugins, capsys):
    assert main(["explain", "bge-m3"]) == 1
    out = capsys.readouterr().out
    assert "No installed plugin claims" in out and "pip install 'flagcore[m3]'" in out


def test_explain_prints_the_claims_table(fake_family, capsys):
    assert main(["explain", "fake-thing"]) == 0
    out = capsys.readouterr().out
    assert "fake-embedder" in out and "name starts with 'fake-'" in out and '"pooling_method": "mean"' in out
    assert "Result: fake-embedder" in out
    assert main(["explain", "fake-thing", "--kind", "reranker"]) == 0
    assert "Result: fake-reranker" in capsys.readouterr().out


def test_explain_reports_ambiguity(fake_family, capsys):
    from fakes import OneClassPlugin

    with plugin_registered(OneClassPlugin("rival", "rival-embedder")):
        assert main(["explain", "fake-thing"]) == 1
    assert "claimed equally" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("args", [["plugins"], ["explain", "bge-m3"]])
def test_console_entry_point_runs(args):
    env = {**os.environ, "FLAGCORE_LOAD_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-m", "flagcore", *args], capture_output=True, text=True, env=env)
    assert out.returncode in (0, 1) and out.stdout and not out.stderr


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_plugins_shows_the_distribution_version_and_description(monkeypatch, capsys):
    from pathlib import Path

    from flagcore.plugins import LOAD_PLUGINS_ENV, host

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "fixtures" / "site_plugins"))
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "bge,demo")
    host.reset()
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "description" in lines[0]
    demo = next(line for line in lines if line.startswith("demo "))
    assert "flagcore-demo-plugin" in demo and "1.2.3" in demo and "used by flagcore's own tests" in demo
    bge = next(line for line in lines if line.startswith("bge "))
    assert "flagcore-bge" in bge and "cross-encoder" in bge
    assert lines.index(bge) < lines.index(demo)  # first-party families first


def test_explain_says_which_rule_decided_and_can_prefer_a_plugin(only_bge, capsys):
    from fakes import OneClassPlugin

    with plugin_registered(OneClassPlugin("greedy", "greedy-embedder", score=399)):
        assert main(["explain", "BAAI/bge-small-en-v1.5"]) == 0
        out = capsys.readouterr().out
        assert re.search(r"greedy-embedder +399", out)  # its claim is shown...
        assert "Result: encoder-only-base" in out and "from plugin 'bge', by FlagEmbedding's name table" in out
        assert main(["explain", "BAAI/bge-small-en-v1.5", "--prefer-plugin", "greedy"]) == 0
        out = capsys.readouterr().out
        assert "Result: greedy-embedder" in out and "by preferred plugin 'greedy'" in out
        assert "Note: FlagEmbedding maps 'bge-small-en-v1.5' to encoder-only-base." in out
