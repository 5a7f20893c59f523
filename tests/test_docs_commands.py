"""What the README and docs tell a user to type works as written: every ``flagcore ...`` command in their code blocks
parses with the installed CLI, every ``pip install`` names something installable from a checkout (a folder of it, a
package of the index, or flagcore's extras with the wheelhouse ``--find-links``; ``flagcore[...]`` alone only where
the line gives the checkout form too or says it is for once flagcore is published), and pyproject.toml's extras
are flagcore.extras' table."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from flagcore.cli import build_parser
from flagcore.extras import ALL_FAMILIES, EXTRAS, FAMILY_EXTRAS, install_hint

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("plugins/*/README.md")])
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
SHELL_FENCES = {"", "bash", "sh", "shell", "console", "dockerfile"}
SHELL_OPERATORS = {"|", "||", "&&", ";", "<", ">", ">>", "2>", "2>&1", "&"}
PUBLISHED_MARK = "once published"


INLINE = re.compile(r"`(pip install [^`]*)`")


def code_lines(path: Path) -> list[tuple[str, str]]:
    """``(context, command line)`` of ``path``'s shell code: each line of its fenced shell blocks (continuation lines
    joined, ``$ `` prompts dropped; the context is the line itself) and each inline ```pip install ...``` span of
    its prose (the context is the prose line, where a "once published" or the checkout form may stand). Inline
    ```flagcore ...``` spans name commands in passing; the fenced ones are the examples to run."""
    text = path.read_text()
    lines = []
    for language, block in FENCE.findall(text):
        if language.lower() not in SHELL_FENCES:
            continue
        for line in block.replace("\\\n", " ").splitlines():
            lines.append((line.strip().removeprefix("$ "),) * 2)
    for prose in FENCE.sub("", text).splitlines():
        lines.extend((prose, span) for span in INLINE.findall(prose))
    return lines


def commands(line: str, program: str) -> list[list[str]]:
    """Each simple command of a shell line that runs ``program`` (after a ``RUN``, a venv's bin/, or ``&&``), as
    its arguments; comments, redirections and pipes cut a command."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    found, current = [], None
    for word in words:
        if word in SHELL_OPERATORS or word.startswith((">", "<", "2>")):
            current = None
            continue
        if current is None and (word == program or word.endswith(f"/{program}")):
            current = []
            found.append(current)
        elif current is not None:
            current.append(word)
    return found


def documented(program: str) -> list[tuple[str, str, list[str]]]:
    return [(f"{path.relative_to(ROOT)}", context, argv) for path in DOCS for context, line in code_lines(path)
            for argv in commands(line, program)]


FLAGCORE_COMMANDS = documented("flagcore")
PIP_COMMANDS = [(where, line, argv[1:]) for where, line, argv in documented("pip") if argv[:1] == ["install"]]


def test_the_docs_show_commands_at_all():
    assert len(FLAGCORE_COMMANDS) > 25 and len(PIP_COMMANDS) > 50


@pytest.mark.parametrize(("where", "line", "argv"), FLAGCORE_COMMANDS, ids=[f"{w}: {li[:60]}" for w, li, _ in
                                                                         FLAGCORE_COMMANDS])
def test_every_documented_flagcore_command_parses(where, line, argv, capsys):
    parser = build_parser()
    try:
        _, unknown = parser.parse_known_args(argv)
    except SystemExit as exit_info:
        if argv and argv[-1] in ("--help", "-h", "--version") and exit_info.code == 0:
            return
        pytest.fail(f"{where}: `{line}` does not parse: {capsys.readouterr().err.strip()}")
    assert unknown == [], f"{where}: `{line}`: flagcore takes no {unknown}"


def _requirements(argv: list[str]) -> tuple[list[str], list[str], bool]:
    """(editable or path requirements, index requirements, has --find-links) of ``pip install`` arguments."""
    paths, names, find_links = [], [], False
    option = None  # the option whose value the next word is
    for word in argv:
        if option is not None:
            if option in ("-e", "--editable"):
                paths.append(word)
            find_links |= option in ("--find-links", "-f")
            option = None
        elif word in ("-e", "--editable", "--find-links", "-f", "--index-url", "--extra-index-url", "-r"):
            option = word
        elif word.startswith("--find-links="):
            find_links = True
        elif word.startswith("-"):
            continue
        elif word.startswith((".", "/")) or "/" in word.split("[")[0]:
            paths.append(word)
        else:
            names.append(word)
    return paths, names, find_links


PLACEHOLDER = re.compile(r"<[^>]+>|path/to/|my-")


@pytest.mark.parametrize(("where", "line", "argv"), PIP_COMMANDS, ids=[f"{w}: {li[:60]}" for w, li, _ in PIP_COMMANDS])
def test_every_documented_install_names_something_installable(where, line, argv):
    from packaging.requirements import InvalidRequirement, Requirement

    paths, names, find_links = _requirements(argv)
    for path in paths:
        folder = path.split("[")[0]
        if PLACEHOLDER.search(folder) or folder.startswith("/"):
            continue  # a placeholder the reader fills in, or a folder of the reader's machine
        assert (ROOT / folder / "pyproject.toml").is_file() or folder.startswith(("dist", "examples/")), \
            f"{where}: `{line}`: {folder} is not a folder of this checkout with a pyproject.toml"
        if folder.startswith("examples/"):
            assert (ROOT / folder / "pyproject.toml").is_file(), f"{where}: `{line}`: no {folder}/pyproject.toml"
    for name in names:
        if PLACEHOLDER.search(name) or "{" in name:
            continue
        try:
            requirement = Requirement(name)
        except InvalidRequirement:
            pytest.fail(f"{where}: `{line}`: {name!r} is not a requirement")
        ours = requirement.name == "flagcore" or requirement.name.startswith("flagcore-")
        if ours:
            assert find_links or PUBLISHED_MARK in line.lower() or "pip install -e plugins/" in line, (
                f"{where}: `{line}`: {name} is not on the package index yet; show the checkout form "
                f"(e.g. {install_hint(*sorted(requirement.extras) or ['bge'])}) or mark the line '# {PUBLISHED_MARK}'")
            unknown = requirement.extras - set(EXTRAS) - {ALL_FAMILIES, "test", "lint", "peft"}
            assert not unknown, f"{where}: `{line}`: flagcore has no extras {sorted(unknown)}"


def test_pyproject_extras_are_the_extras_table():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    expected = {name: list(extra.requirements) for name, extra in EXTRAS.items()}
    expected[ALL_FAMILIES] = [extra.distribution for extra in FAMILY_EXTRAS]
    assert {k: v for k, v in declared.items() if k not in ("test", "lint")} == expected


@pytest.mark.parametrize("extra", [extra for extra in EXTRAS.values() if extra.folder is not None],
                         ids=lambda extra: extra.name)
def test_every_extra_folder_builds_its_distribution(extra):
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads((ROOT / extra.folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == extra.distribution


def test_the_hint_outside_a_checkout_names_every_way_to_install(monkeypatch):
    import flagcore.extras

    monkeypatch.setattr(flagcore.extras, "checkout_root", lambda: None)
    hint = flagcore.extras.install_hint("serve", "bge")
    assert hint.startswith("pip install 'flagcore[serve,bge]'")
    assert "pip install -e plugins/serve -e plugins/bge" in hint and "--find-links dist" in hint
    assert flagcore.extras.install_hint("openvino") == "pip install 'flagcore[openvino]'"
    with pytest.raises(ValueError, match="unknown extras"):
        flagcore.extras.install_hint("nope")


def test_the_hint_from_this_checkout_names_its_folders():
    hint = install_hint("m3")
    assert hint.startswith(f"pip install -e {ROOT / 'plugins' / 'm3'} (from this checkout")
    assert "pip install 'flagcore[m3]'" in hint
