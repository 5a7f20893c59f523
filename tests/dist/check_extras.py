"""Checks a virtualenv where ``flagcore[m3]`` was installed from the wheelhouse (``nox -s extras`` runs it).

Usage: python tests/dist/check_extras.py DIST_DIR. Exits non-zero, naming what failed.
Not collected by pytest: it needs its own environment, not the editable one of the test sessions.
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("FLAGCORE_LOAD_PLUGINS", None)  # every installed plugin must load, whatever the caller's shell set

import flagcore  # noqa: E402

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"]).resolve()
M3_CLASS = "encoder-only-m3"


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"check_extras FAILED: {message}")


def check_installed_from_wheel(distribution: str, module: str, dist_dir: Path) -> None:
    """Imported from site-packages (not editable from the checkout), byte for byte the file of the dist/ wheel."""
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        check(False, f"{distribution} is not installed")
    path = Path(importlib.import_module(module).__file__).resolve()
    check(path.is_relative_to(SITE_PACKAGES),
          f"{module} is imported from {path}, not from {SITE_PACKAGES} (installed editable from the checkout?)")
    member = path.relative_to(SITE_PACKAGES).as_posix()
    wheel = dist_dir / f"{distribution.replace('-', '_')}-{version}-py3-none-any.whl"
    check(wheel.is_file(), f"{distribution} {version} is installed but {wheel} does not exist")
    with zipfile.ZipFile(wheel) as zf:
        check(zf.read(member) == path.read_bytes(),
              f"{distribution}: the installed {member} differs from the one in {wheel.name} (not the local wheel?)")


def main() -> None:
    dist_dir = Path(sys.argv[1]).resolve()
    check_installed_from_wheel("flagcore", "flagcore", dist_dir)
    check_installed_from_wheel("flagcore-m3", "flagcore_m3.plugin", dist_dir)

    resolution = flagcore.resolve("BAAI/bge-m3", "embedder")
    check(resolution.model_class == M3_CLASS,
          f"BAAI/bge-m3 resolved to {resolution.model_class!r}, expected {M3_CLASS!r}")
    plugins = {info.name: info for info in flagcore.list_plugins()}
    info = plugins.get(resolution.entry.plugin)
    check(info is not None and info.distribution == "flagcore-m3",
          f"BAAI/bge-m3 is served by plugin {resolution.entry.plugin!r} ({info}), expected one from flagcore-m3")

    try:
        flagcore.resolve("Qwen3-Embedding-0.6B", "embedder")
    except flagcore.PluginNotInstalledError as exc:
        check("flagcore[llm]" in str(exc), f"the PluginNotInstalledError does not name flagcore[llm]: {exc}")
    else:
        check(False, "Qwen3-Embedding-0.6B resolved without the llm family installed")

    # flagcore-serve is a separate distribution (the serve extra): without it, 'flagcore serve' names the extra
    import subprocess

    done = subprocess.run([sys.executable, "-m", "flagcore", "serve", "BAAI/bge-m3"], capture_output=True, text=True)
    check(done.returncode != 0 and "flagcore[serve]" in done.stderr,
          f"'flagcore serve' without flagcore-serve: exit {done.returncode}, {done.stderr.strip()!r}")

    print(f"check_extras: OK (flagcore[m3] from {dist_dir}; plugins: {sorted(plugins)})")


if __name__ == "__main__":
    main()
