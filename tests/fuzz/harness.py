"""How the fuzz tests run a call: the settings profile (``FLAGCORE_FUZZ_EXAMPLES``), the per-example deadline and
watchdog, the property every public call must keep, and the figures of a run (examples, outcomes, time, failures).

The property: a call returns a result of its documented shape and type, or raises one of the documented exceptions
(``TypeError``, ``ValueError``, ``FileNotFoundError``, flagcore's own errors) with a non-empty message. An input the
strategies know to be valid must not raise; one they know to be invalid must raise. Anything else (``IndexError``,
``KeyError``, ``AttributeError``, a ``RuntimeError`` from torch, a ``PluginWarning`` from a plugin that crashed in a
hook, NaN in an output, a hang) fails the test and hypothesis shrinks it to a minimal example.
"""

from __future__ import annotations

import faulthandler
import json
import os
import platform
import signal
import sys
import threading
import time
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from flagcore.errors import ModelClassImportError, ModelResolutionError, PluginContractError, PluginWarning

ROOT = Path(__file__).resolve().parents[2]
#: examples per call; unset: a small, derandomized run for the default suite
EXAMPLES_ENV = "FLAGCORE_FUZZ_EXAMPLES"
#: where the figures of the run go as JSON (unset: nowhere)
FIGURES_ENV = "FLAGCORE_FUZZ_FIGURES"
#: hypothesis' deadline per example, in seconds
DEADLINE_ENV = "FLAGCORE_FUZZ_DEADLINE"
DEFAULT_EXAMPLES = 12
DEFAULT_DEADLINE_S = 5.0

#: the exceptions a public call may raise on bad input (flagcore's errors are ValueError / ImportError subclasses)
DOCUMENTED: tuple[type[BaseException], ...] = (
    TypeError, ValueError, FileNotFoundError, ModelResolutionError, PluginContractError, ModelClassImportError,
)


def examples_per_call() -> int:
    value = os.environ.get(EXAMPLES_ENV, "").strip()
    return int(value) if value else DEFAULT_EXAMPLES


def deadline_seconds() -> float:
    value = os.environ.get(DEADLINE_ENV, "").strip()
    return float(value) if value else DEFAULT_DEADLINE_S


def full_run() -> bool:
    return bool(os.environ.get(EXAMPLES_ENV, "").strip())


def _register_profiles() -> None:
    common = dict(
        deadline=timedelta(seconds=deadline_seconds()),
        # tiny models still take milliseconds per call; long texts and huge batches are drawn on purpose
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        print_blob=True,
    )
    # the default suite: few examples, the same ones on every run (a regression suite, never flaky)
    settings.register_profile("flagcore-fuzz-small", max_examples=DEFAULT_EXAMPLES, derandomize=True, database=None,
                              **common)
    # nox -s fuzz: random exploration, failures kept in an ignored folder and replayed first on the next run
    settings.register_profile("flagcore-fuzz-full", max_examples=examples_per_call(), derandomize=False,
                              database=DirectoryBasedExampleDatabase(str(ROOT / ".pytest_cache" / "hypothesis-fuzz")),
                              **common)


_register_profiles()
PROFILE = "flagcore-fuzz-full" if full_run() else "flagcore-fuzz-small"
FUZZ_SETTINGS = settings.get_profile(PROFILE)


# -- figures ------------------------------------------------------------------------------------------------------
@dataclass
class CallFigures:
    examples: int = 0
    outcomes: Counter = field(default_factory=Counter)
    warnings: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"examples": self.examples, "outcomes": dict(self.outcomes.most_common()),
                "warnings": dict(self.warnings.most_common()), "seconds": round(self.seconds, 2),
                "failures": self.failures}


class Figures:
    """Per public call: examples run (shrinking included), what each returned or raised, warnings, time, failures."""

    def __init__(self) -> None:
        self.calls: dict[str, CallFigures] = {}
        self.started = time.time()

    def call(self, name: str) -> CallFigures:
        return self.calls.setdefault(name, CallFigures())

    def as_dict(self) -> dict[str, Any]:
        return {
            "profile": PROFILE,
            "max_examples_per_call": FUZZ_SETTINGS.max_examples,
            "deadline_s": deadline_seconds(),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "wall_s": round(time.time() - self.started, 1),
            "hypothesis": hypothesis.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "calls": {name: figures.as_dict() for name, figures in sorted(self.calls.items())},
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# -- one example --------------------------------------------------------------------------------------------------
class Hang(Exception):
    """An example ran far past its deadline (raised by the watchdog)."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Interrupt Python code still running after ``seconds`` (``Hang``); end the whole process with a traceback of
    every thread if even that does not return (a hang in native code)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    # to the process's own stderr: a test may have redirected sys.stderr to a buffer
    faulthandler.dump_traceback_later(seconds * 4, exit=True, file=sys.__stderr__)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


def is_documented(exc: BaseException) -> bool:
    return isinstance(exc, DOCUMENTED) and not isinstance(exc, Hang)


@dataclass
class Raised:
    """What a call raised, when it raised a documented exception."""

    error: BaseException


def exercise(call: CallFigures, fn: Callable[[], Any], *, valid: bool | None,
             documented: Callable[[BaseException], bool] = is_documented) -> Any:
    """Run one call under the watchdog and check the exception half of the property; returns the call's result
    (for the caller to check its shape) or a :class:`Raised`.

    ``valid``: True when the input must be accepted, False when it must be refused, None when either is right.
    """
    call.examples += 1
    with warnings.catch_warnings(record=True) as caught, watchdog(deadline_seconds() * 6):
        warnings.simplefilter("always")
        warnings.simplefilter("error", PluginWarning)  # a plugin that raised inside a hook
        try:
            result = fn()
        except BaseException as exc:
            if not documented(exc):
                raise
            name = type(exc).__name__
            call.outcomes[name] += 1
            message = str(exc).strip()
            assert message, f"{name} raised without a message"
            assert valid is not True, f"a valid input was refused: {name}: {message}"
            return Raised(exc)
        finally:
            for warning in caught:
                call.warnings[warning.category.__name__] += 1
    call.outcomes["returned"] += 1
    assert valid is not False, f"an invalid input was accepted; the call returned {_short(result)}"
    return result


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def run(call: CallFigures, strategy: Any, body: Callable[[Any], None]) -> None:
    """``body(case)`` for every case hypothesis draws from ``strategy``, under the fuzz profile; the time and any
    failure (with hypothesis' falsifying example) go to ``call``."""

    @FUZZ_SETTINGS
    @given(strategy)
    def check(case: Any) -> None:
        body(case)

    start = time.perf_counter()
    try:
        check()
    except BaseException as exc:
        call.failures.append(describe_failure(exc))
        raise
    finally:
        call.seconds += time.perf_counter() - start


def describe_failure(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    notes = [n for n in getattr(exc, "__notes__", []) if n.startswith("Falsifying")]
    text = f"{type(exc).__name__}: {first}" + (f" ({notes[0]})" if notes else "")
    return text if len(text) <= 600 else text[:597] + "..."
