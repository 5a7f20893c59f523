"""Compare what an example computed under flagcore with FlagEmbedding's reference (values in run_examples.plain's
tagged form). Only the standard library: both the test and make_references.py use it."""

from __future__ import annotations

import math


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, dict) and "scalar" in value)


def _number(value) -> float:
    return float(value["value"] if isinstance(value, dict) else value)


def _kind(value) -> str:
    if isinstance(value, dict):
        for tag in ("ndarray", "tensor", "scalar", "dict", "list", "tuple", "object"):
            if tag in value:
                return tag
    return type(value).__name__


def label(text: str) -> str:
    """A printed string up to its first colon: the label an example prints, not the numbers or the error message
    formatted after it (those differ in their digits or wording, the numbers themselves are compared elsewhere)."""
    return text.split(":", 1)[0]


def differences(expected, got, tolerance: float, path: str = "") -> list[str]:
    """Where ``got`` is not ``expected``: same structure (kinds, lengths, shapes, dict keys, array dtypes), numbers
    within ``tolerance`` (absolute). A Python float and a NumPy scalar are both numbers here."""
    where = path or "value"
    if _is_number(expected) and _is_number(got):
        e, g = _number(expected), _number(got)
        if math.isnan(e) and math.isnan(g):
            return []
        return [] if abs(e - g) <= tolerance else [f"{where}: {g!r} != {e!r} (|Δ| {abs(e - g):.3g} > {tolerance})"]
    if _kind(expected) != _kind(got):
        found = [f"{where}: a {_kind(got)} where FlagEmbedding gives a {_kind(expected)}"]
        e, g = _zero_dim(expected), _zero_dim(got)
        if e is not None and g is not None:  # a 0-d array or tensor and a number: the values still count
            found += differences(e, g, tolerance, path)
        return found
    kind = _kind(expected)
    if kind in ("ndarray", "tensor"):
        found = []
        if expected["shape"] != got["shape"]:
            return [f"{where}: shape {got['shape']} != {expected['shape']}"]
        if expected[kind] != got[kind]:
            found.append(f"{where}: dtype {got[kind]} != {expected[kind]}")
        if ("values" in expected) != ("values" in got):
            return [*found, f"{where}: summarised on one side only"]
        parts = [("values", expected["values"], got["values"])] if "values" in expected else [
            ("mean_row", expected["mean_row"], got["mean_row"]),
            *[(f"row {i}", expected["rows"][i], got["rows"].get(i)) for i in expected["rows"]]]
        for name, e, g in parts:
            if g is None:
                found.append(f"{where}: {name} missing")
                continue
            worst = _max_abs_difference(e, g)
            if worst > tolerance:
                found.append(f"{where}: {name} differs by {worst:.3g} > {tolerance}")
        return found
    if kind == "dict":
        found = []
        if expected["keys"] != got["keys"]:
            found.append(f"{where}: key types {got['keys']} != {expected['keys']}")
        e_items, g_items = expected["items"], got["items"]
        if set(e_items) != set(g_items):
            missing, extra = sorted(set(e_items) - set(g_items)), sorted(set(g_items) - set(e_items))
            return [*found, f"{where}: keys differ (missing {missing[:8]}, extra {extra[:8]})"]
        for key in e_items:
            found += differences(e_items[key], g_items[key], tolerance, f"{where}[{key!r}]")
        return found
    if kind in ("list", "tuple"):
        e_list, g_list = expected[kind], got[kind]
        if len(e_list) != len(g_list):
            return [f"{where}: length {len(g_list)} != {len(e_list)}"]
        found = []
        for i, (e, g) in enumerate(zip(e_list, g_list, strict=True)):
            found += differences(e, g, tolerance, f"{where}[{i}]")
        return found
    if kind == "str":
        return [] if label(expected) == label(got) else [f"{where}: printed {got!r}, FlagEmbedding {expected!r}"]
    if kind == "object":
        return []  # a model object: its class is the library's own
    return [] if expected == got else [f"{where}: {got!r} != {expected!r}"]


def _zero_dim(value):
    """A number, or the value of a 0-d array or tensor; None for anything else."""
    if _is_number(value):
        return value
    if _kind(value) in ("ndarray", "tensor") and value["shape"] == []:
        return value["values"]
    return None


def _max_abs_difference(e, g) -> float:
    if isinstance(e, list):
        if not isinstance(g, list) or len(e) != len(g):
            return math.inf
        return max((_max_abs_difference(a, b) for a, b in zip(e, g, strict=True)), default=0.0)
    if isinstance(g, list):
        return math.inf
    return abs(float(e) - float(g))


def max_abs_difference(expected, got) -> float:
    """The largest absolute difference between corresponding numbers (a number and a 0-d array correspond; inf where
    the structures differ otherwise; dtypes and types are not looked at)."""
    e, g = _zero_dim(expected), _zero_dim(got)
    if e is not None and g is not None:
        return abs(_number(e) - _number(g))
    kind = _kind(expected)
    if kind != _kind(got):
        return math.inf
    if kind in ("ndarray", "tensor"):
        if expected["shape"] != got["shape"] or ("values" in expected) != ("values" in got):
            return math.inf
        if "values" in expected:
            return _max_abs_difference(expected["values"], got["values"])
        if set(expected["rows"]) != set(got["rows"]):
            return math.inf
        return max(_max_abs_difference(expected["mean_row"], got["mean_row"]),
                   *[_max_abs_difference(expected["rows"][i], got["rows"][i]) for i in expected["rows"]])
    if kind == "dict":
        if set(expected["items"]) != set(got["items"]):
            return math.inf
        pairs = [(expected["items"][k], got["items"][k]) for k in expected["items"]]
    elif kind in ("list", "tuple"):
        if len(expected[kind]) != len(got[kind]):
            return math.inf
        pairs = list(zip(expected[kind], got[kind], strict=True))
    else:
        return 0.0
    return max((max_abs_difference(a, b) for a, b in pairs), default=0.0)


def printed_tree(outcome: dict) -> dict:
    """An outcome's print calls as one tagged value (a list of calls, each a list of arguments)."""
    return {"list": [{"list": call} for call in outcome["printed"]]}


def outcome_differences(expected: dict, got: dict, tolerance: float) -> list[str]:
    """An example's outcome (run_examples.run) against the reference: it ran, its RESULTS, its print calls."""
    if not expected["ok"]:
        raise ValueError(f"the reference run failed: {expected['error']}")
    if not got["ok"]:
        return [f"the example failed: {got['error']}"]
    return (differences(expected["results"], got["results"], tolerance, "RESULTS")
            + differences(printed_tree(expected), printed_tree(got), tolerance, "printed"))


def outcome_max_abs_difference(expected: dict, got: dict) -> float:
    return max(max_abs_difference(expected["results"], got["results"]),
               max_abs_difference(printed_tree(expected), printed_tree(got)))
