"""Errors a person can act on: each one names the file, line, column and field at fault."""

from __future__ import annotations

import difflib
import re
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Mark:
    """A place in a source: a file with a 1-based line and column, or a command-line argument (line 0)."""

    source: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.col}" if self.line else self.source


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec: where it is, which dotted field, and what to do about it."""

    mark: Mark
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.mark}: {self.field}: {self.message}" if self.field else f"{self.mark}: {self.message}"


class NetspecError(Exception):
    """Base class of every error netspec reports to a person (exit code 1, no traceback)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is (netspec.cli installs the handler), so that what was under way is
    undone as for Ctrl-C: temporary files removed, a run folder left at its last committed epoch."""

    word, code = "terminated", 143


_raised: list[KeyboardInterrupt] = []  # interrupts raised by `interrupt` and not yet reported


def interrupt(signum: int, frame: object) -> None:
    """netspec.cli's handler of SIGINT and SIGTERM: raise where the process is, and remember it. Python drops an
    exception raised in a finalizer or a weakref callback (it prints "Exception ignored" and goes on), so a Ctrl-C
    that lands in garbage collection would be lost; `check_interrupted` raises it again at the next batch."""
    exc = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()
    _raised.append(exc)
    raise exc


def check_interrupted() -> None:
    """Raise the interrupt that arrived and was not reported yet, if any (see `interrupt`)."""
    if _raised:
        raise _raised[-1]


def clear_interrupts() -> None:
    """Forget the interrupts raised so far: the command they ended has returned."""
    _raised.clear()


def stopped(exc: KeyboardInterrupt) -> tuple[str, int]:
    """('interrupted', 130) for Ctrl-C, ('terminated', 143) for SIGTERM: what to say, and the exit code."""
    return (exc.word, exc.code) if isinstance(exc, Terminated) else ("interrupted", 130)


class SpecError(NetspecError):
    """A spec failed to load or validate; carries every problem found, in source order."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(set(diagnostics), key=lambda d: (d.mark, d.field, d.message))
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @classmethod
    def at(cls, mark: Mark, field: str, message: str) -> SpecError:
        return cls([Diagnostic(mark, field, message)])


# C0 and C1 controls but tab and newline, and the bidirectional overrides that reorder what a terminal shows.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def unprintable(text: str) -> str | None:
    """'U+001B', the first character of `text` that could drive a terminal, or None."""
    found = _CONTROL.search(text)
    return f"U+{ord(found[0]):04X}" if found else None


def printable(text: str) -> str:
    """`text` with every control character written as an escape (\\x1b), for printing untrusted text."""
    return _CONTROL.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice closest to `word`, if any is close enough to be a likely misspelling."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """'; did you mean 'x'?' for the closest choice, or '' when nothing is close."""
    match = closest(word, choices)
    return f"; did you mean '{match}'?" if match else ""


def quote_choices(choices: Sequence[str]) -> str:
    """'a', 'b' or 'c'."""
    return quote_list([f"'{c}'" for c in choices])


def quote_list(items: Sequence[str]) -> str:
    """a, b or c."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
