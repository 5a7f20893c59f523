from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import flagcore
from flagcore import plugin_registered
from flagcore.cli import build_parser, main


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
@pytest.mark.parametrize("args, status, printed", [
    # run from this checkout, the hints name its folders first, then the published extra
    (["plugins"], 0, "No flagcore plugins are loaded. Install a family, e.g. pip install -e "
                     f"{Path(flagcore.__file__).parent.parent / 'plugins' / 'bge'} (from this checkout; once flagcore "
                     "is published: pip install 'flagcore[bge]')."),
    (["explain", "bge-m3"], 1, "which is not installed. Install it with: pip install -e "
                               f"{Path(flagcore.__file__).parent.parent / 'plugins' / 'm3'} (from this checkout"),
])
def test_console_entry_point_runs(args, status, printed):
    env = {**os.environ, "FLAGCORE_LOAD_PLUGINS": ""}  # no family loaded: explain names the one to install
    out = subprocess.run([sys.executable, "-m", "flagcore", *args], capture_output=True, text=True, env=env)
    assert (out.returncode, out.stderr) == (status, "")
    assert printed in out.stdout


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


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and re.fullmatch(r"flagcore \d+\.\d+\.\d+\n", capsys.readouterr().out)


@pytest.mark.parametrize("command", ["plugins", "explain", "models", "encode", "rerank", "bench"])
def test_every_command_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "example" in out and f"flagcore {command}" in out


def test_models_lists_flagembeddings_names_and_what_is_installed(only_bge, capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"bge-small-en-v1.5\s+embedder\s+encoder-only-base\s+flagcore-bge\s+cls\s+\"\{\}\{\}\"\s+yes", out)
    # run from this checkout, the hint is this checkout's folder of the family
    m3_folder = re.escape(str(Path(flagcore.__file__).parent.parent / "plugins" / "m3"))
    assert re.search(rf"bge-m3\s+embedder\s+encoder-only-m3\s+flagcore-m3\s+cls .* no: pip install -e {m3_folder}", out)
    assert main(["models", "--kind", "reranker"]) == 0
    assert "bge-m3 " not in capsys.readouterr().out


def test_plugins_lists_each_class_with_its_description(only_bge, capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"embedder\s+encoder-only-base\s+bge\s+cls, mean\s+encoder-only embedder", out)


@pytest.fixture
def candidates(tmp_path):
    path = tmp_path / "candidates.txt"
    path.write_text("a panda is a bear\nParis is the capital of France\npandas eat bamboo\n")
    return path


def test_rerank_with_an_embedder_ranks_by_similarity(tiny_models, candidates, capsys):
    from flagcore import FlagAutoModel

    assert main(["rerank", str(tiny_models["minilm"]), "-q", "what do pandas eat?", "-i", str(candidates),
                 "--devices", "cpu"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert "ranked by cosine similarity" in captured.err
    model = FlagAutoModel.from_finetuned(str(tiny_models["minilm"]), devices="cpu")
    texts = candidates.read_text().splitlines()
    expected = model.similarity(model.encode_queries(["what do pandas eat?"]), model.encode_corpus(texts))[0]
    assert [line["index"] for line in lines] == sorted(range(3), key=lambda i: -expected[i])
    assert [line["text"] for line in lines] == [texts[line["index"]] for line in lines]
    assert abs(lines[0]["score"] - float(expected.max())) < 1e-5


def test_rerank_with_a_reranker_scores_pairs(only_bge, tiny_models, candidates, capsys):
    from flagcore import FlagAutoReranker

    assert main(["rerank", str(tiny_models["tiny-bert-reranker"]), "-q", "pandas", "-i", str(candidates),
                 "--top-k", "2", "--devices", "cpu"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    texts = candidates.read_text().splitlines()
    scores = FlagAutoReranker.from_finetuned(str(tiny_models["tiny-bert-reranker"]), devices="cpu").compute_score(
        [("pandas", t) for t in texts])
    assert [line["index"] for line in lines] == sorted(range(3), key=lambda i: -scores[i])[:2]


def test_bench_reports_throughput(tiny_models, capsys):
    assert main(["bench", str(tiny_models["minilm"]), "--texts", "16", "--runs", "1", "--devices", "cpu"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\d+\.\d texts/s \(median of 1 runs of 16 texts: .* on cpu, float32, \d+ threads", out)
    assert main(["bench", str(tiny_models["minilm"]), "-i", os.devnull]) == 1
    assert "needs at least one text" in capsys.readouterr().err


# -- options that installed distributions add to a command -----------------------------------------------------------
class FakeEntryPoint:
    def __init__(self, name, target, group="flagcore.command_options"):
        self.name, self.value, self.group, self.target = name, f"fake_addon:{name}", group, target

    def load(self):
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


@pytest.fixture
def installed_options(monkeypatch):
    """Entry points of ``flagcore.command_options`` as the test sets them (the installed ones left out)."""
    import importlib_metadata

    from flagcore.cli import OPTIONS_GROUP

    added = []
    real = importlib_metadata.entry_points

    def entry_points(**kwargs):
        return list(added) if kwargs.get("group") == OPTIONS_GROUP else real(**kwargs)

    monkeypatch.setattr(importlib_metadata, "entry_points", entry_points)
    return added


def add_shout(parser):
    parser.add_argument("--shout", action="store_true", help="print the plugins loudly")

    def handle(args):
        if not args.shout:
            return None
        print("PLUGINS!")
        return 3

    return handle


def test_a_distribution_adds_an_option_and_handles_it(no_installed_plugins, installed_options, capsys):
    installed_options.append(FakeEntryPoint("plugins", add_shout))
    assert main(["plugins", "--shout"]) == 3
    assert capsys.readouterr().out == "PLUGINS!\n"
    assert main(["plugins"]) == 0  # without the option: the command as usual
    assert "No flagcore plugins are loaded" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["plugins", "--help"])
    assert "print the plugins loudly" in capsys.readouterr().out


def test_options_without_a_handler_and_for_absent_commands(no_installed_plugins, installed_options, capsys):
    installed_options.extend([FakeEntryPoint("env", lambda parser: parser.add_argument("--extra")),
                              FakeEntryPoint("no-such-command", add_shout)])
    assert build_parser().parse_args(["env", "--extra", "x"]).extra == "x"
    assert main(["plugins"]) == 0


def test_a_broken_option_entry_point_is_skipped_with_a_warning(no_installed_plugins, installed_options, capsys):
    installed_options.extend([FakeEntryPoint("plugins", ImportError("no module named fake_addon")),
                              FakeEntryPoint("env", lambda parser: parser.add_argument("--json"))])  # a clash
    with pytest.warns(RuntimeWarning) as warned:
        assert main(["plugins"]) == 0
    messages = sorted(str(w.message) for w in warned)
    assert "options of command 'env' (fake_addon:env) failed to load: ArgumentError" in messages[0]
    assert "options of command 'plugins' (fake_addon:plugins) failed to load: ImportError" in messages[1]
    assert "No flagcore plugins are loaded" in capsys.readouterr().out
    with pytest.warns(RuntimeWarning), pytest.raises(SystemExit) as info:
        main(["plugins", "--shout"])
    assert info.value.code == 2 and "unrecognized arguments: --shout" in capsys.readouterr().err


def test_encode_ray_without_the_distribution_names_it(installed_options, capsys, tmp_path):
    assert main(["encode", "some-model", "--ray", "-i", str(tmp_path / "x.parquet"), "-o", str(tmp_path / "o")]) == 1
    ray_folder = Path(flagcore.__file__).parent.parent / "plugins" / "ray"
    assert capsys.readouterr().err == (
        f"flagcore: error: ImportError: flagcore encode --ray needs flagcore-ray: pip install -e {ray_folder} (from "
        "this checkout; once flagcore is published: pip install 'flagcore[ray]') (--debug shows the traceback)\n")
    with pytest.raises(SystemExit):
        main(["encode", "--help"])
    assert "--ray" not in capsys.readouterr().out


def test_a_wrong_option_shows_the_subcommands_usage_and_a_close_match(capsys):
    from flagcore.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["encode", "some-model", "--input-file", "x.txt"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: flagcore encode" in err and "--input-file: did you mean --input?" in err


def test_long_options_are_never_abbreviated(capsys):
    from flagcore.cli import main

    with pytest.raises(SystemExit):
        main(["encode", "some-model", "--out", "vectors.npy"])
    assert "unrecognized arguments: --out vectors.npy (--out: did you mean --output?)" in capsys.readouterr().err


def test_a_closed_pipe_ends_the_command_quietly_with_status_0():
    import subprocess
    import sys

    command = subprocess.Popen([sys.executable, "-m", "flagcore", "models"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert command.stdout is not None
    command.stdout.close()  # the reader is gone before the table is written, as with `| head -0`
    _, err = command.communicate(timeout=120)
    assert command.returncode == 0 and b"BrokenPipeError" not in err and b"Traceback" not in err


def _encode_stderr(tmp_path, *flags):
    import subprocess
    import sys

    from parity.tiny_models import minilm_dir

    result = subprocess.run([sys.executable, "-m", "flagcore", *flags, "encode", str(minilm_dir()), "--devices", "cpu",
                             "-o", str(tmp_path / "out.jsonl")], input="hello world\n", capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_encode_prints_no_progress_noise_by_default(tmp_path):
    assert _encode_stderr(tmp_path) == ""


def test_verbose_shows_the_log_and_the_loading_bar(tmp_path):
    err = _encode_stderr(tmp_path, "--verbose")
    assert "Loading weights" in err and "flagcore.auto" in err
