from __future__ import annotations

import os
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


@pytest.mark.parametrize("args", [["plugins"], ["explain", "bge-m3"]])
def test_console_entry_point_runs(args):
    env = {**os.environ, "FLAGCORE_LOAD_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-m", "flagcore", *args], capture_output=True, text=True, env=env)
    assert out.returncode in (0, 1) and out.stdout and not out.stderr


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
