"""Broken third-party distributions next to the first-party families, one at a time, each built here: a
``*.dist-info`` folder (METADATA, entry_points.txt) next to a module, on sys.path. After each, a first-party model
still resolves and encodes, one PluginWarning names the distribution, and ``flagcore plugins --check`` lists it
with its state (exit status 1 when it is disabled)."""

from __future__ import annotations

import importlib
import itertools
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fakes import FakeEmbedder

import flagcore.plugins as plugins_module
from flagcore import FlagAutoModel, PluginWarning, explain, hookimpl, plugin_registered, resolve
from flagcore.cli import main
from flagcore.errors import ModelClassImportError, UnknownModelClassError
from flagcore.plugins import IN_PROCESS, LOAD_PLUGINS_ENV, check_plugins, host
from flagcore.registry import ModelClassEntry

_serial = itertools.count()  # every module gets a name of its own, so that sys.modules never answers for it

WORKING = """
from flagcore import hookimpl


@hookimpl
def register_model_classes(register):
    register.add_embedder("{model_class}", "fakes:FakeEmbedder")
"""
SYS_EXIT_IN_HOOK = WORKING + """

@hookimpl
def claim_embedder(probe):
    raise SystemExit(2)
"""
SYS_EXIT_REGISTERING = """
import sys

from flagcore import hookimpl


@hookimpl
def register_model_classes(register):
    sys.exit("registering failed")
"""
BAIL_AT_IMPORT = """
class Bail(BaseException):
    pass


raise Bail("bailing out")
"""
SLOW_IMPORT = "import time\n\ntime.sleep(0.6)\n" + WORKING


def metadata(distribution: str, *, summary: bool = True, version: bool = True) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {distribution}"]
    lines += ["Version: 0.1"] if version else []
    lines += ["Summary: a plugin for flagcore's isolation tests"] if summary else []
    return "\n".join(lines) + "\n"


@dataclass
class Installed:
    entry_point: str
    distribution: str
    folder: str  # the dist-info folder's name
    module: str

    def named_in(self, message: str) -> bool:
        return self.distribution in message or self.folder in message


@dataclass
class Site:
    """A folder on sys.path holding installed-looking distributions."""

    root: Path
    modules: list[str] = field(default_factory=list)

    def install(self, case: str, make_metadata: Callable[[str], str | bytes], source: str, *,
                distribution: str | None = None, entry_point: str | None = None,
                entry_points: bytes | None = None) -> Installed:
        distribution = distribution or f"flagcore-iso-{case}"
        entry_point = entry_point or f"iso-{case}"
        module = f"flagcore_iso_{case.replace('-', '_')}_{next(_serial)}"
        folder = f"{distribution.replace('-', '_')}-0.1.dist-info"
        (self.root / f"{module}.py").write_text(source.replace("{model_class}", f"{entry_point}-embedder"))
        info = self.root / folder
        info.mkdir()
        text = make_metadata(distribution)
        (info / "METADATA").write_bytes(text if isinstance(text, bytes) else text.encode())
        (info / "entry_points.txt").write_bytes(entry_points or f"[flagcore]\n{entry_point} = {module}\n".encode())
        self.modules.append(module)
        importlib.invalidate_caches()
        host.reset()
        return Installed(entry_point, distribution, folder, module)


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv(LOAD_PLUGINS_ENV, raising=False)  # every installed family loads, next to the broken one
    installed = Site(root)
    yield installed
    for module in installed.modules:
        sys.modules.pop(module, None)


def check(capsys) -> tuple[int, str]:
    """``flagcore plugins --check``, in-process: its exit status and what it printed."""
    status = main(["plugins", "--check"])
    return status, capsys.readouterr().out


def row(out: str, plugin: Installed) -> str:
    return next(line for line in out.splitlines() if line.startswith(f"{plugin.entry_point} "))


CASES: dict[str, tuple[Callable[[str], str | bytes], str, str, str]] = {
    # case: METADATA (from the distribution's name), the module's source, the state it ends in, what the warning says
    "no-summary": (lambda d: metadata(d, summary=False), WORKING, "loaded", "has no Summary"),
    "no-version": (lambda d: metadata(d, version=False), WORKING, "loaded", "has no Version; using version 'unknown'"),
    "no-name": (lambda d: "Metadata-Version: 2.1\nVersion: 0.1\n", WORKING, "loaded", "has no Name, Summary"),
    "empty-metadata": (lambda d: "", WORKING, "disabled", "MetadataNotFound"),
    "latin-1-metadata": (lambda d: metadata(d).replace("tests", "pruebas \xe9").encode("latin-1"), WORKING,
                         "disabled", "UnicodeDecodeError"),
    "sys-exit-at-import": (metadata, "import sys\n\nsys.exit(3)\n", "disabled", "failed to import: SystemExit: 3"),
    "sys-exit-in-hook": (metadata, SYS_EXIT_IN_HOOK, "disabled", "raised in claim_embedder: SystemExit: 2"),
    "sys-exit-registering": (metadata, SYS_EXIT_REGISTERING, "disabled",
                             "raised in register_model_classes: SystemExit: registering failed"),
    "base-exception-at-import": (metadata, BAIL_AT_IMPORT, "disabled", "failed to import: Bail: bailing out"),
    "slow-import": (metadata, SLOW_IMPORT, "loaded (slow import)", "to import (more than 0.2 s)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_distribution_leaves_the_families_working(case, site, tiny_models, monkeypatch, capsys):
    make_metadata, source, state, said = CASES[case]
    monkeypatch.setattr(plugins_module, "SLOW_IMPORT_SECONDS", 0.2 if case == "slow-import" else 60.0)
    plugin = site.install(case, make_metadata, source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu")
        vectors = model.encode(["a first-party family still works", "next to a broken plugin"])
    assert type(model).__module__.startswith("flagcore_bge") and vectors.shape[0] == 2
    mine = [str(w.message) for w in caught if issubclass(w.category, PluginWarning) and plugin.named_in(str(w.message))]
    assert len(mine) == 1 and said in mine[0], [str(w.message) for w in caught]
    status, out = check(capsys)
    assert f"  {state}" in row(out, plugin), out
    assert status == (1 if state == "disabled" else 0), out
    if state == "disabled":
        assert "  disabled: " in out and said in out
    if case == "slow-import":
        assert main(["plugins"]) == 0
        assert f"slow to import: {plugin.entry_point} (distribution {plugin.distribution} 0.1) took" in (
            capsys.readouterr().out)


def test_a_hook_that_raised_system_exit_is_not_asked_again(site, capsys):
    plugin = site.install("exits-once", metadata, SYS_EXIT_IN_HOOK)
    with pytest.warns(PluginWarning, match=r"'iso-exits-once' \(distribution flagcore-iso-exits-once 0.1\) raised "
                                           r"in claim_embedder: SystemExit: 2 .*; continuing without it"):
        explain("some-model")
    assert plugin.entry_point not in host.plugin_names
    with warnings.catch_warnings():
        warnings.simplefilter("error", PluginWarning)
        explain("some-model")  # disabled: not called, so no second warning
    status, out = check(capsys)
    assert status == 1 and "(would register) embedder iso-exits-once-embedder" in row(out, plugin)


def test_ctrl_c_while_a_plugin_imports_is_not_swallowed(site):
    site.install("ctrl-c", metadata, "raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        host.plugin_names  # noqa: B018
    assert host._pm is None  # the next use reads the entry points again


def test_an_unreadable_entry_points_file_hides_no_other_plugin(site, tiny_models):
    site.install("bad-entry-points", metadata, WORKING, entry_points=b"[flagcore]\niso-x = caf\xe9\n")
    with pytest.warns(PluginWarning, match=r"entry points of the installed distribution .*flagcore_iso_bad_entry_"
                                           r"points-0\.1\.dist-info cannot be read \(UnicodeDecodeError"):
        model = FlagAutoModel.from_finetuned(str(tiny_models["tiny-bert"]), devices="cpu")
    assert model.encode(["still works"]).shape[0] == 1
    assert "bge" in host.plugin_names and all(s.state != "disabled" for s in check_plugins())
    assert "UnicodeDecodeError" in host.problems()[0]


def test_check_lists_the_plugins_the_env_var_leaves_out(site, monkeypatch, capsys):
    plugin = site.install("left-out", metadata, "import sys\n\nsys.exit(3)\n")
    monkeypatch.setenv(LOAD_PLUGINS_ENV, "bge")
    host.reset()
    status, out = check(capsys)
    assert status == 0 and "  not selected" in row(out, plugin)
    assert "  loaded" in next(line for line in out.splitlines() if line.startswith("bge "))
    assert plugin.module not in sys.modules  # never imported


def test_unknown_model_class_lists_the_plugins_that_failed_to_import(site):
    site.install("import-error", metadata, "raise ImportError('it needs libfoo, which is not installed')\n")
    with pytest.warns(PluginWarning, match="failed to import"), pytest.raises(UnknownModelClassError) as info:
        resolve("x", "embedder", model_class="iso-unknown-embedder")
    message = str(info.value)
    assert ("Plugins that failed to load, whose classes are therefore missing: 'iso-import-error' (distribution "
            "flagcore-iso-import-error 0.1) failed to import: ImportError: it needs libfoo") in message
    assert "Registered: [" in message and "'flagcore plugins --check'" in message


def test_a_family_id_whose_family_failed_to_import_names_the_family_and_why(site):
    site.install("shadow", metadata, "import sys\n\nsys.exit(3)\n", distribution="flagcore-bge", entry_point="bge")
    with pytest.warns(PluginWarning, match=r"'bge' \(distribution flagcore-bge 0\.1\) failed to import: SystemExit: 3"):
        with pytest.raises(UnknownModelClassError, match=r"It belongs to flagcore plugin 'bge' \(distribution "
                                                         r"flagcore-bge 0\.1\), which failed to import: SystemExit: 3"):
            resolve("x", "embedder", model_class="encoder-only-base")


def test_an_id_named_like_a_plugin_that_failed_names_it(site):
    site.install("acme", metadata, "raise ImportError('no acme here')\n", entry_point="acme")
    with pytest.warns(PluginWarning), pytest.raises(UnknownModelClassError,
                                                    match=r"It belongs to flagcore plugin 'acme'.*ImportError"):
        resolve("x", "reranker", model_class="acme")


class ExitingClaims:
    __name__ = "exiting"

    @hookimpl
    def register_model_classes(self, register):
        register.add_embedder("exiting-embedder", FakeEmbedder)

    @hookimpl
    def claim_embedder(self, probe):
        raise SystemExit("bye")


def test_an_in_process_plugin_raising_system_exit_is_disabled(fake_family):
    with plugin_registered(ExitingClaims()):
        with pytest.warns(PluginWarning, match=r"'exiting' \(registered in-process\) raised in claim_embedder: "
                                               r"SystemExit: bye"):
            claims = explain("fake-model")
        assert [c.plugin for c in claims] == ["fake-family"]
        assert host.plugin_names == ["fake-family"]
        status = next(s for s in check_plugins() if s.name == "exiting")
        assert status.state == "disabled" and status.model_classes == (("embedder", "exiting-embedder"),)
        with pytest.raises(UnknownModelClassError, match=r"belongs to flagcore plugin 'exiting' \(registered "
                                                         r"in-process\), which raised in claim_embedder: "
                                                         r"SystemExit: bye"):
            resolve("fake-model", "embedder", model_class="exiting-embedder")
    in_process = [s.name for s in check_plugins() if s.source.distribution == IN_PROCESS]
    assert in_process == ["fake-family"]  # leaving the block forgets it, without an error


def test_a_model_class_module_calling_sys_exit_is_an_import_error(site):
    (site.root / "flagcore_iso_exiting_family.py").write_text("import sys\n\nsys.exit(4)\n")
    site.modules.append("flagcore_iso_exiting_family")
    importlib.invalidate_caches()
    entry = ModelClassEntry("embedder", "iso-exiting", "flagcore_iso_exiting_family:Embedder", "iso",
                            source="distribution flagcore-iso 0.1")
    with pytest.raises(ModelClassImportError, match=r"plugin 'iso' \(distribution flagcore-iso 0.1\) registered "
                                                    r"embedder 'iso-exiting' .* cannot be imported: SystemExit: 4"):
        entry.load()
