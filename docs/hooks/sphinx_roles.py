"""A griffe extension for the API reference (mkdocs.yml, mkdocstrings ``extensions``): flagcore's docstrings
cross-reference with Sphinx roles (``:class:`~flagcore.errors.PluginWarning```, ``:meth:`from_finetuned```), which
Markdown would show literally; they become inline code, shortened as Sphinx shortens them (``~`` keeps the last
component)."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|data|attr|exc|mod|obj|const):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_code, obj.docstring.value)
