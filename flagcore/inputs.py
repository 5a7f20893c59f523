"""Checking what callers pass in: texts, pairs, instruction formats, keyword arguments."""

from __future__ import annotations

import difflib
import inspect
import numbers
import string
from collections.abc import Iterable
from typing import Any, Callable

# bytes-like values iterate as ints: refused as a whole, like bytes, instead of as "item 0 is int 104"
_BYTES_LIKE = (bytes, bytearray, memoryview)


def as_texts(value: Any, argument: str = "sentences") -> tuple[list[str], bool]:
    """A list of strings and whether the caller passed one bare string."""
    if isinstance(value, str):
        _check_text(value, argument)
        return [value], True
    if value is None:
        raise TypeError(f"{argument} is None; pass a string or a list of strings")
    if isinstance(value, (*_BYTES_LIKE, dict)) or not isinstance(value, Iterable):
        raise TypeError(f"{argument} must be a string or a list of strings, not {type(value).__name__}")
    texts = list(value)
    for i, item in enumerate(texts):
        if not isinstance(item, str):
            raise TypeError(f"{argument}[{i}] is {_describe(item)}; every item must be a string")
        _check_text(item, f"{argument}[{i}]")
    return texts, False


def as_pairs(value: Any, argument: str = "sentence_pairs") -> tuple[list[tuple[str, str]], bool]:
    """A list of (query, passage) pairs and whether the caller passed a single pair."""
    if value is None:
        raise TypeError(f"{argument} is None; pass a (query, passage) pair or a list of pairs")
    if isinstance(value, (str, *_BYTES_LIKE, dict)) or not isinstance(value, Iterable):
        raise TypeError(f"{argument} must be a (query, passage) pair or a list of pairs, not {_describe(value)}")
    items = list(value)
    if items and isinstance(items[0], str):
        return [_as_pair(items, argument)], True
    return [_as_pair(item, f"{argument}[{i}]") for i, item in enumerate(items)], False


def _as_pair(item: Any, where: str) -> tuple[str, str]:
    if isinstance(item, (str, *_BYTES_LIKE, dict)) or not isinstance(item, Iterable):
        raise TypeError(f"{where} is {_describe(item)}; a pair is a (query, passage) tuple or list of two strings")
    parts = list(item)
    if len(parts) != 2:
        raise ValueError(f"{where} has {len(parts)} element(s); a pair is exactly (query, passage)")
    for j, part in enumerate(parts):
        role = "query" if j == 0 else "passage"
        if not isinstance(part, str):
            raise TypeError(f"{where} {role} is {_describe(part)}; both query and passage must be strings")
        _check_text(part, f"{where} {role}")
    return parts[0], parts[1]


def _check_text(text: str, where: str) -> None:
    """Refuse a string that is not valid Unicode text: a lone surrogate (what ``errors='surrogateescape'`` makes of
    undecodable bytes) cannot be encoded as UTF-8, and the tokenizers fail on it with an unrelated message."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{where} holds a lone surrogate {text[exc.start]!r} at position {exc.start}, which is not valid Unicode "
            "text; pass strings that encode as UTF-8 (decode bytes with errors='replace', not 'surrogateescape')"
        ) from None


def _describe(item: Any) -> str:
    if item is None:
        return "None"
    text = repr(item)
    return f"{type(item).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def format_instruction(instruction_format: str, instruction: str, text: str) -> str:
    """``instruction_format.format(instruction, text)``, a literal backslash-n meaning a newline. A format that
    cannot format this instruction and text (not one :func:`check_instruction_format` accepts) is a ValueError."""
    if not isinstance(instruction_format, str):
        raise TypeError(f"instruction_format must be a string like '{{}}{{}}', not {type(instruction_format).__name__}")
    fmt = instruction_format.replace("\\n", "\n") if "\\n" in instruction_format else instruction_format
    try:
        return fmt.format(instruction, text)
    except (IndexError, KeyError, AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"instruction_format={instruction_format!r} cannot format the instruction "
                         f"{_describe(instruction)} and the text: {type(exc).__name__}: {exc}; use two '{{}}' fields "
                         "(instruction, then text)") from None


def check_instruction_format(instruction_format: str, argument: str) -> str:
    if not isinstance(instruction_format, str):
        raise TypeError(f"{argument} must be a string like '{{}}{{}}', not {type(instruction_format).__name__}")
    # checked as format_instruction will use it, with a literal backslash-n read as a newline
    problem = _format_problem(instruction_format.replace("\\n", "\n"))
    if problem:
        raise ValueError(
            f"{argument}={instruction_format!r} is not a format with two '{{}}' fields "
            f"(instruction, then text): {problem}"
        )
    return instruction_format


def _format_problem(instruction_format: str) -> str | None:
    """Why ``instruction_format`` cannot format every (instruction, text), or None. Its fields may only be ``{}``,
    ``{0}`` or ``{1}`` (with a conversion such as ``!r`` or a format spec such as ``:>9``): an attribute or an index
    (``{0.real}``, ``{0[0]}``) or a field inside a format spec depends on the instruction and fails on some."""
    try:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(instruction_format) if name is not None]
    except ValueError as exc:
        return str(exc)
    for name, spec in fields:
        if name not in ("", "0", "1"):
            return f"the field {{{name}}} is not {{}}, {{0}} or {{1}}"
        if "{" in (spec or ""):
            return f"the field {{{name}:{spec}}} has a field inside its format spec"
    try:
        if "\x01text" not in instruction_format.format("\x00instruction", "\x01text"):
            return "it drops the text"
    except (IndexError, KeyError, ValueError, TypeError) as exc:
        return str(exc)
    return None


def reject_unknown(where: str, unknown: Iterable[str], accepted: Iterable[str]) -> None:
    """Raise TypeError for keyword arguments nobody reads, listing the accepted ones."""
    unknown = sorted(unknown)
    if not unknown:
        return
    accepted = sorted(accepted)
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1)
        if close:
            hints.append(f"{name!r} → did you mean {close[0]!r}?")
    hint = f" ({'; '.join(hints)})" if hints else ""
    raise TypeError(
        f"{where} got unexpected keyword argument(s) {', '.join(map(repr, unknown))}{hint}. "
        f"Accepted: {', '.join(accepted)}."
    )


def positive_int(value: Any, argument: str) -> int:
    """A whole number >= 1 (numpy's integers too, returned as ``int``); not a bool, a float or a string."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{argument} must be a positive integer, got {value!r}")
    return int(value)


def constructor_arguments(cls: type, root: type) -> set[str]:
    """Keyword names ``cls()`` accepts: its ``__init__`` and those of the bases it forwards ``**kwargs`` to,
    up to ``root``."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if klass is root or not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def split_call_options(where: str, method: Callable[..., Any], kwargs: dict[str, Any], core_options: frozenset[str],
                       family_options: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(core options, family options) of a call's extra keyword arguments; any other name is a TypeError that
    lists what ``method`` accepts."""
    known = core_options | family_options
    if set(kwargs) - known:
        named = {
            p.name for p in inspect.signature(method).parameters.values()
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in ("sentences", "sentence_pairs")
        }
        reject_unknown(where, set(kwargs) - known, known | named)
    core = {k: v for k, v in kwargs.items() if k in core_options}
    family = {k: v for k, v in kwargs.items() if k in family_options}
    return core, family


def check_bool(value: Any, argument: str) -> bool:
    """A true/false argument: ``True``/``False`` (numpy's bools too), not a string like ``"no"`` that would read as
    true."""
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{argument} must be True or False, not {_describe(value)}")


def positive_int_or(value: Any, default: int, argument: str) -> int:
    """A per-call limit: ``default`` when not given (None), else a positive integer (0 is an error, not 'default')."""
    return default if value is None else positive_int(value, argument)
