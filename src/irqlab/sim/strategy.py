"""Strategies make the choices; schedules record them.

At every choice point with two or more options the engine calls
``strategy.choose(choices, engine) -> index``.  ``choices`` is a list, in a
deterministic order (CPU 0's runnable contexts, then CPU 0's "take the
pending interrupt now", CPU 1 ..., device actors, and "complete an RCU grace
period"), of objects with these attributes:

* ``kind`` -- ``"task"``, ``"irq"`` (a running hard-irq context), ``"actor"``,
  ``"bringup"``: a context whose next operation is ``op``; or the pseudo
  choices ``"irq"`` with ``op is None`` (take the interrupt: an
  :class:`~irqlab.sim._core.IrqChoice`) and ``"rcu_gp"``;
* ``cpu`` -- the CPU index (``None`` for actors and grace periods);
* ``key`` -- a stable integer identity within the run (a context's ``tid``;
  negative for the pseudo choices), for priorities (PCT) and hashing;
* ``op`` -- the next operation's descriptor (``op.kind``, ``op.obj``,
  ``op.write``, ``op.label``), which is what partial-order reduction needs:
  two choices are independent when their ops touch different objects or
  both only read.

A *data choice point* (``v = await sim.choose(n)``) also goes through
``choose``: the list then holds ``n`` :class:`~irqlab.sim._core.DataChoice`
objects (``kind == "data"``, ``value`` 0..n-1, ``owner`` the context, ``cpu``
its CPU, negative ``key``), and the index picked is the value.

A strategy may also define ``after_step(choice, engine)`` (called after
every step, also single-option ones and the step whose model code raised) and
``begin(engine)`` / ``end(result)``.

The schedule string is ``v1.<scenario hash>.<shape hash>.<choices>``: the
choices one character each (``0-9a-v`` for 0..31, ``w<hex>x`` above; a run of
five or more equal choices as ``y<count>z<choice>``; at most
:data:`MAX_SCHEDULE_CHOICES` choices in all), the
shape hash a digest of each choice point's option count and chosen key, so a
replay that takes the same indices through a different-shaped run is
detected when the recorded prefix is consumed.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from irqlab.errors import InvalidArgumentType, InvalidArgumentValue, IrqlabError

if TYPE_CHECKING:
    from irqlab.sim.engine import Engine
    from irqlab.sim.result import RunResult

__all__ = [
    "MAX_SCHEDULE_CHOICES",
    "Random",
    "Replay",
    "RoundRobin",
    "ScheduleDivergence",
    "Strategy",
    "decode_schedule",
    "encode_schedule",
]

_DIGITS = "0123456789abcdefghijklmnopqrstuv"
_VALUE = {c: i for i, c in enumerate(_DIGITS)}
_RE = re.compile(r"v1\.([0-9a-f]{8})\.([0-9a-f]{8})\.([0-9a-z]*)")


class ScheduleDivergence(IrqlabError):
    """A replayed schedule does not match the run (other scenario, or different choices)."""


def _token(c: int) -> str:
    return _DIGITS[c] if c < 32 else f"w{c:x}x"


def encode_schedule(scenario_hash: str, shape: int, choices: Sequence[int]) -> str:
    """The string form of a schedule (see the module docstring).

    A run of 5 or more equal choices is written ``y<count>z<token>``.
    """
    parts = []
    i = 0
    n = len(choices)
    while i < n:
        c = choices[i]
        j = i + 1
        while j < n and choices[j] == c:
            j += 1
        tok = _token(c)
        if j - i >= 5:
            parts.append(f"y{j - i}z{tok}")
        else:
            parts.append(tok * (j - i))
        i = j
    return f"v1.{scenario_hash}.{shape:08x}.{''.join(parts)}"


#: The most choices a schedule string may decode to (a documented limit: ten times the
#: engine's default ``max_steps``; a run has at most one choice per step).  Checked while
#: decoding, so ``y<count>z`` repeats cannot make a short string expand without bound.
MAX_SCHEDULE_CHOICES = 1 << 20


def _shown(text: str) -> str:
    """``text`` for an error message: its repr, cut short when it is long."""
    if len(text) <= 100:
        return repr(text)
    return f"{text[:80]!r}... ({len(text)} characters)"


def _bad(text: str, i: int, what: str) -> InvalidArgumentValue:
    # i counts characters from the start of the string as given
    return InvalidArgumentValue(f"schedule has {what} at character {i}, not {_shown(text)}")


def decode_schedule(text: str) -> tuple[str, int, list[int]]:
    """Parse a schedule string into ``(scenario_hash, shape, choices)``.

    Surrounding whitespace is ignored.  Raises :class:`InvalidArgumentValue` for a
    malformed string (the message gives the position of the first bad character,
    counted from the start of ``text``) and for one that decodes to more than
    :data:`MAX_SCHEDULE_CHOICES` choices.
    """
    if not isinstance(text, str):
        raise InvalidArgumentType(f"schedule must be a str, not {text!r}")
    stripped = text.strip()
    m = _RE.fullmatch(stripped)
    if m is None:
        raise InvalidArgumentValue(
            f"schedule must look like 'v1.<8 hex>.<8 hex>.<choices>', not {_shown(text)}")
    body = m.group(3)
    base = len(text) - len(text.lstrip()) + m.start(3)  # body[i] is text[base + i]
    limit = MAX_SCHEDULE_CHOICES
    out: list[int] = []
    i = 0
    n = len(body)
    while i < n:
        count = 1
        start = i
        if body[i] == "y":
            j = body.find("z", i + 1)
            digits = body[i + 1:j] if j > 0 else ""
            # (isdigit alone admits non-ASCII digits; 8 digits are over the limit anyway,
            # and int() of a very long digit string is slow or refused)
            decimal = digits.isascii() and digits.isdigit()
            if decimal and len(digits) > 7:
                raise _bad(text, base + i, f"a repeat count over {limit}")
            if not decimal or int(digits) < 1:
                raise _bad(text, base + i, "a bad repeat count")
            count = int(digits)
            i = j + 1
            if i >= n:
                raise _bad(text, base + start, "a repeat without a choice")
        ch = body[i]
        if ch == "w":
            j = body.find("x", i + 1)
            if j <= i + 1 or any(c not in "0123456789abcdef" for c in body[i + 1:j]):
                raise _bad(text, base + i, "a bad escape")
            v = int(body[i + 1:j], 16)
            i = j + 1
        elif ch in _VALUE:
            v = _VALUE[ch]
            i += 1
        else:
            raise _bad(text, base + i, f"a stray {ch!r}")
        if len(out) + count > limit:
            raise _bad(text, base + start, f"more than {limit} choices")
        if count == 1:
            out.append(v)
        else:
            out.extend([v] * count)
    return m.group(1), int(m.group(2), 16), out


class Strategy:
    """Base class: override :meth:`choose`; ``begin``/``end`` bracket a run."""

    def begin(self, engine: Engine) -> None:
        """Called when a run starts (reset per-run state here)."""

    def choose(self, choices: list[Any], engine: Engine) -> int:
        """Return the index of the choice to take (``len(choices) >= 2``)."""
        raise NotImplementedError

    def end(self, result: RunResult) -> None:
        """Called with the result when a run ends."""


class RoundRobin(Strategy):
    """Deterministic: take pending interrupts at once, otherwise rotate over contexts by tid."""

    def __init__(self) -> None:
        self._last = -1

    def begin(self, engine: Engine) -> None:
        self._last = -1

    def choose(self, choices: list[Any], engine: Engine) -> int:
        if choices[0].kind == "data":
            return 0  # data choices: the first value, without moving the rotation
        best = -1
        first = -1
        bk = fk = 1 << 62
        last = self._last
        for i, c in enumerate(choices):
            if c.kind == "irq" and c.op is None:
                return i
            k = c.key if c.key >= 0 else (1 << 40) - c.key
            if last < k < bk:
                best, bk = i, k
            if k < fk:
                first, fk = i, k
        if best < 0:
            best, bk = first, fk
        self._last = bk
        return best


class Random(Strategy):
    """Uniformly random choices; all randomness from one ``random.Random(seed)``.

    A strategy object carries its generator across runs: ``explore`` with one
    ``Random(seed)`` gives a deterministic sequence of different runs.
    """

    def __init__(self, seed: int = 0) -> None:
        if type(seed) is not int:
            raise InvalidArgumentType(f"seed must be an int, not {seed!r}")
        self.seed = seed
        self.rng = random.Random(seed)
        self._random = self.rng.random

    def choose(self, choices: list[Any], engine: Engine) -> int:
        return int(self._random() * len(choices))


class Replay(Strategy):
    """Replay a recorded schedule; then continue with ``then`` (or require the run to end).

    Raises :class:`ScheduleDivergence` when the schedule belongs to another
    scenario, a recorded index is not a valid choice, the shape hash of the
    recorded prefix differs, the run ends before the prefix is consumed, or
    (without ``then``) the run needs more choices than were recorded.
    ``schedule`` is a schedule string or a list of choice indices (no checks
    of scenario and shape then).

    ``strict=False`` makes every choice sequence valid (what a shrinker
    wants): a recorded index past the options is taken modulo their count,
    shape hashes are not checked, and after the recorded choices the run
    continues with ``then`` (default: always option 0).
    """

    def __init__(self, schedule: str | Sequence[int], then: Strategy | None = None, *,
                 strict: bool = True) -> None:
        self.scenario_hash: str | None
        self.shape: int | None
        self.choices: list[int]
        if isinstance(schedule, str):
            self.scenario_hash, self.shape, self.choices = decode_schedule(schedule)
        elif isinstance(schedule, Sequence) and all(type(c) is int and c >= 0
                                                    for c in schedule):
            self.scenario_hash, self.shape, self.choices = None, None, [int(c) for c in schedule]
        else:
            raise InvalidArgumentType(
                f"schedule must be a schedule string or a list of ints, not {schedule!r}")
        if then is not None and not isinstance(then, Strategy):
            raise InvalidArgumentType(f"then must be a Strategy or None, not {then!r}")
        self.then = then
        after = getattr(then, "after_step", None)
        if after is not None:
            # the continuation sees every step of the run, the replayed prefix included
            # (PCT counts steps to place its priority change points)
            self.after_step = after
        self.strict = bool(strict)
        self.pos = 0

    def begin(self, engine: Engine) -> None:
        self.pos = 0
        self._engine = engine
        if self.strict and self.scenario_hash is not None and (
                self.scenario_hash != engine.scenario_hash):
            raise ScheduleDivergence(
                f"schedule was recorded for scenario {self.scenario_hash}, "
                f"this one is {engine.scenario_hash}")
        if self.then is not None:
            self.then.begin(engine)

    def _check_shape(self, engine: Engine) -> None:
        if self.strict and self.shape is not None and engine.shape != self.shape:
            raise ScheduleDivergence(
                f"run diverged from the schedule within its first {len(self.choices)} "
                f"choices (shape {engine.shape:08x}, recorded {self.shape:08x})")

    def choose(self, choices: list[Any], engine: Engine) -> int:
        pos = self.pos
        rec = self.choices
        if pos < len(rec):
            i = rec[pos]
            self.pos = pos + 1
            if i >= len(choices):
                if not self.strict:
                    return i % len(choices)
                raise ScheduleDivergence(
                    f"choice {pos}: recorded option {i} but only {len(choices)} are possible")
            return i
        if pos == len(rec):
            # the engine folds a choice into its shape after choose(): check it now
            self.pos = pos + 1
            self._check_shape(engine)
        if self.then is None:
            if not self.strict:
                return 0
            raise ScheduleDivergence(f"run needs more than the {len(rec)} recorded choices")
        return self.then.choose(choices, engine)

    def end(self, result: RunResult) -> None:
        if self.pos < len(self.choices) and self.strict:
            raise ScheduleDivergence(
                f"run ended ({result.outcome}) after {self.pos} of {len(self.choices)} "
                "recorded choices")
        if self.pos == len(self.choices):
            self.pos += 1
            self._check_shape(self._engine)
        if self.then is not None:
            self.then.end(result)
