"""Depth-first exploration with dynamic partial-order reduction and a preemption bound.

Stateless model checking: every schedule is a fresh run of the target that
replays a prefix of choices and then continues; the explorer keeps the tree
path (one :class:`_Node` per engine step) between runs.

**Reduction** is source-DPOR (Abdulla, Aronis, Jonsson, Sagonas, POPL 2014)
with sleep sets: after each run, every *race* (two dependent steps of
different contexts, not ordered through a third) adds, at the state before
the first step, one context that starts a reordering of the race
(an *initial* of the reversed sequence), unless one is already there.  Sleep
sets make sure no two complete schedules are equivalent: schedules that
differ only in the order of independent steps are explored once.  Runs cut
short because every enabled context sleeps are counted as ``blocked``, not as
schedules.

**Dependence** comes from the engine's footprints (``Engine.footprint`` and
``last_op``: lock acquisitions and releases, accesses, refcounts, frees,
completions, RCU state), read/write-aware, plus three conservative rules:

* every step of a CPU (its tasks, its irq contexts, and "take the pending
  interrupt now") is dependent with every other step of that CPU -- they
  share the CPU's interrupt state and preempt one another; an interrupt
  arrival is therefore dependent with everything on its CPU;
* every step that accessed the machine (an MMIO load or store, a system
  register, RAM through the machine, an interrupt line: the engine notes each
  in the step's footprint) is dependent with every other such step and with
  every interrupt arrival ("the hardware" is one object);
* completing an RCU grace period writes the RCU state that read sections read.

**Preemption bound** (CHESS, Musuvathi and Qadeer, PLDI 2007): a preemption
is a step by another context while the previous step's context is still
enabled (an interrupt taken while the running context could go on counts).
With a bound, backtrack points are also added at the start of the racing
step's run of steps (Coons, Musuvathi, McKinley, OOPSLA 2013), which keeps
the bounded search from losing schedules that plain DPOR would reach by
preempting elsewhere.  ``reduction=False`` explores every schedule (within
the bound): the baseline for the reduction factor.

Sharding for parallel workers: :func:`split_prefixes` enumerates the first
``depth`` choice points with sleep sets only (every option that is not asleep),
giving one ``(prefix, sleeps)`` per subtree; an explorer built with them fixes
those choices (the nodes never backtrack: the other shards cover their
alternatives) and starts from their sleep sets, so shards do not re-explore what
an earlier shard covers through independent reorderings of the prefix.
:func:`iter_prefixes` is its generator form (each subtree as soon as its partial
run ends), also for one subtree (a shard's prefix: its part of a deeper split).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import Any

from irqlab.check.run import Outcome, Target, make_target, run_built
from irqlab.errors import (
    InvalidArgumentType,
    InvalidArgumentValue,
    IrqlabError,
    check_count,
    check_int,
)
from irqlab.sim import Strategy
from irqlab.sim._core import RCU_STATE

__all__ = ["MAX_SPLIT_DEPTH", "DfsExplorer", "NondeterministicScenario", "Prefix",
           "iter_prefixes", "outcome_key", "outcomes", "split_prefixes", "step_footprint"]

_HW = "hw"  # the key of "the hardware" in footprints
# footprint values: read, write (a lock's release is a plain write), lock acquisition (a
# write that is disabled while the lock is held), trylock (a write that is never disabled)
_R, _W, _ACQ, _TRY = 1, 2, 3, 4


class NondeterministicScenario(IrqlabError):
    """Replaying a prefix gave different choices: the scenario is not a function of them."""


class _Blocked(Exception):
    """Every enabled context is asleep (or only preemptions beyond the bound remain)."""


class _Cut(Exception):
    """Prefix enumeration: the run reached the split depth (the rest is a shard's work)."""


class _Node:
    """One step of the current path."""

    __slots__ = ("backtrack", "dfp", "dn", "done", "dv", "enabled", "fp", "frozen", "key",
                 "pre", "sleep")

    def __init__(self, enabled: tuple[int, ...], sleep: dict[Any, dict[Any, int]]) -> None:
        self.enabled = enabled
        self.sleep = sleep
        self.backtrack: dict[int, None] = {}
        self.done: dict[int, dict[Any, int]] = {}
        self.key = 0
        self.fp: dict[Any, int] = {}
        self.pre = 0
        self.frozen = False
        # a data choice made by the step (sim.choose): option count (0: none), the value
        # taken, and the union of the footprints of the values explored before it
        self.dn = 0
        self.dv = 0
        self.dfp: dict[Any, int] | None = None


def _okey(obj: Any, stable: dict[int, Any] | None = None) -> tuple[str, Any]:
    """A footprint key for ``obj`` that is stable across runs.

    Objects are rebuilt for every run, so Python ids cannot be compared between
    the runs that sleep sets relate.  A tracked object (``sim.alloc``) is keyed
    by its stable identity (``stable``: the allocating context's stable id and
    its allocation count, the same in every run that reorders independent steps);
    any other object by its type and name.  Objects of one type that share a name
    (or have none) share a key: coarser than identity, hence conservative (more
    dependence, never less).
    """
    if stable:
        s = stable.get(id(obj))
        if s is not None:
            return "obj", s
    t = type(obj).__name__
    if t == "CpuCtx":
        return t, obj.index
    if t == "Thread":
        return "actor", obj.key  # (a device actor: every step of it writes this key)
    if t == "Machine":
        return _HW  # type: ignore[return-value]  # (the engine notes every machine access)
    name = getattr(obj, "name", None)
    if not isinstance(name, str):
        name = getattr(obj, "kind", None)
        if not isinstance(name, str):
            name = None
    return t, name


_RCU_KEY = _okey(RCU_STATE)  # (completing a grace period writes the RCU state)


def _indep(a: dict[Any, int], b: dict[Any, int]) -> bool:
    if len(a) > len(b):
        a, b = b, a
    for k, v in a.items():
        vb = b.get(k)
        if vb is not None and (v > _R or vb > _R):
            return False
    return True


_LOCK_TYPES = frozenset({"SpinLock", "Mutex"})
_KEY = attrgetter("key")
_CPU_KEYS = tuple(("CpuCtx", cpu) for cpu in range(64))  # a CPU's footprint key, built once


def _racy(key: Any, a: int, b: int) -> bool:
    """Whether two accesses of one object can be reordered (a release and an acquisition of
    one lock never can: the acquisition is disabled until the release)."""
    if a == _R and b == _R:
        return False
    # (a product: 2 * 3 is the only way to make 6 from the four access values)
    return a * b != _W * _ACQ or key[0] not in _LOCK_TYPES


def step_footprint(engine: Any, c: Any) -> dict[Any, int]:
    """The footprint of the step ``engine`` just took for choice ``c``: footprint key ->
    access (read, write, lock acquisition, trylock), from the engine's ``last_op`` and
    ``footprint`` (on with :meth:`~irqlab.sim.Engine.enable_footprints`) and the
    conservative rules of the module docstring (the CPU's own key; an interrupt arrival
    writes the hardware; a grace period writes the RCU state)."""
    fp: dict[Any, int] = {}
    stable = engine._stable
    op = engine.last_op
    if op is not None:
        o = op.obj
        if o is not None:
            # a blocking op (lock acquisition, wait_for_completion, synchronize_*,
            # flush_work, ...) is performed once it became ready: acquisition-like
            fp[_okey(o, stable)] = (_ACQ if op.blocking else _TRY
                                    if op.kind == "trylock" else _W if op.write else _R)
    for o, w in engine.footprint:
        k = _okey(o, stable)
        if w:
            if fp.get(k, 0) < _W:
                fp[k] = _W
        elif k not in fp:
            fp[k] = _R
    cpu = c.cpu
    if cpu is not None:
        fp[_CPU_KEYS[cpu] if cpu < 64 else ("CpuCtx", cpu)] = _W
        if c.op is None and c.kind == "irq":
            fp[_HW] = _W  # an interrupt arrival depends on the hardware
    elif c.kind == "rcu_gp":
        fp[_RCU_KEY] = _W
    elif c.kind == "actor":
        fp["actor", c.key] = _W  # (the virtual clock: see Engine._touch_clock)
    return fp


class _DfsRun(Strategy):
    """The per-run strategy: replays the explorer's path, extends it, records footprints."""

    def __init__(self, ex: DfsExplorer) -> None:
        self.ex = ex
        self.cp = 0  # choice points (>= 2 options) seen so far
        # fixed for the run: the path (one list, extended by the run) and the length of
        # its prefix whose footprints are recorded already
        self.path = ex.path
        self.valid = ex._valid

    def on_engine(self, engine: Any) -> None:
        self.engine = engine
        engine.enable_footprints()

    def pending(self) -> list[tuple[int, dict[Any, int]]]:
        """The next operations of the contexts left blocked when the run ended.

        Races with them are found too (Flanagan-Godefroid check every context's next
        transition, not only executed ones): two waiters of one completion, say,
        where the run let one of them take it.
        """
        eng = getattr(self, "engine", None)
        out: list[tuple[int, dict[Any, int]]] = []
        if eng is None:
            return out
        for th in eng.threads:
            if th.done:
                continue
            op = th.op
            fp: dict[Any, int] = {}
            if op.obj is not None:
                fp[_okey(op.obj, eng._stable)] = (
                    _ACQ if op.blocking else _TRY if op.kind == "trylock"
                    else _W if op.write else _R)
            if th.cpu is not None:
                fp[("CpuCtx", th.cpu)] = _W
            out.append((th.key, fp))
        return out

    def choose(self, choices: list[Any], engine: Any) -> int:
        ex = self.ex
        t0 = engine._t0
        i = engine._steps if t0 is None else engine.events.time - t0
        if choices[0].kind == "data":
            return self._data(i - 1, choices)
        cp = self.cp
        self.cp = cp + 1
        if ex.split_depth is not None and cp >= ex.split_depth:
            # the subtree below is a shard's, unless every option sleeps here: then it
            # holds no schedule (the shard would only find that out by running)
            sleep = ex._sleep_at(self.path[i - 1] if i else None)
            if sleep and all(c.key in sleep for c in choices):
                raise _Blocked
            raise _Cut
        if cp == len(ex.cp_nodes):
            ex.cp_nodes.append(i)
        path = self.path
        if i < len(path):
            # replaying the previous run's path: the option count and the chosen
            # context must match (what a schedule string's shape hash checks)
            node = path[i]
            en = node.enabled
            j = en.index(node.key)
            if len(choices) != len(en) or choices[j].key != node.key:
                raise NondeterministicScenario(
                    f"replaying step {i}: options {tuple([c.key for c in choices])} differ "
                    f"from the recorded {en} (the scenario is not deterministic)")
            return j
        keys = tuple(map(_KEY, choices))
        if cp < len(ex.prefix):
            j = ex.prefix[cp]
            if j >= len(keys):
                raise NondeterministicScenario(
                    f"shard prefix choice {cp} is {j}, but only {len(keys)} options exist")
            node = ex.new_node(i, keys, forced=keys[j])
            node.frozen = True
            if cp < len(ex.prefix_sleeps):
                node.sleep = dict(ex.prefix_sleeps[cp])
        else:
            node = ex.new_node(i, keys, full=ex.split_depth is not None)
        return keys.index(node.key)

    def _data(self, i: int, choices: list[Any]) -> int:
        # a data choice during step i: every value is explored (no reduction between
        # values: they are different steps of one context, not reorderings)
        ex = self.ex
        if ex.split_depth is not None:
            ex._data_cut = True  # prefix enumeration ends here: the shard explores the values
            raise _Cut
        path = ex.path
        n = len(choices)
        if i == len(path):  # a single-option step: its node is made here, not after it
            node = ex.new_node(i, (choices[0].owner.key,))
        else:
            node = path[i]
        if node.dn == 0:
            node.dn = n
            node.dv = 0
        elif node.dn != n:
            raise NondeterministicScenario(
                f"replaying step {i}: a data choice of {n} values, recorded {node.dn}")
        return node.dv

    def after_step(self, c: Any, engine: Any) -> None:
        t0 = engine._t0
        i = (engine._steps if t0 is None else engine.events.time - t0) - 1
        path = self.path
        if i < self.valid:
            # the unchanged prefix of the previous run: its footprints are recorded already
            if path[i].key != c.key:
                raise NondeterministicScenario(
                    f"replaying step {i}: context {c.key} ran, recorded {path[i].key}")
            return
        fp = step_footprint(engine, c)
        if i < len(path):
            node = path[i]
            if node.key != c.key:
                raise NondeterministicScenario(
                    f"replaying step {i}: context {c.key} ran, recorded {node.key}")
        else:
            node = self.ex.new_node(i, (c.key,))
        node.fp = fp


class DfsExplorer:
    """Enumerates the schedules of ``target`` depth-first, one run per :meth:`next_run`.

    ``preemptions``: the preemption bound (``None``: unbounded); ``reduction``:
    source-DPOR with sleep sets (False: every schedule); ``prefix``: choice
    indices this shard is fixed to.  Deterministic.  ``schedules`` counts
    complete runs, ``blocked`` the runs cut short by sleep sets or the bound.
    """

    def __init__(self, target: Target, *, preemptions: int | None = None,
                 reduction: bool = True, prefix: Sequence[int] = (),
                 prefix_sleeps: Sequence[dict[Any, dict[Any, int]]] = (),
                 split_depth: int | None = None) -> None:
        if not isinstance(target, Target):
            raise InvalidArgumentType(f"target must be a Target, not {target!r}")
        if preemptions is not None:
            check_count("preemptions", preemptions, 0, 1 << 20)
        if not isinstance(reduction, bool):
            raise InvalidArgumentType(f"reduction must be a bool, not {reduction!r}")
        self.target = target
        self.bound = preemptions
        self.reduction = reduction
        self.prefix = [check_int("prefix", p, 0, 1 << 20) for p in prefix]
        self.prefix_sleeps = list(prefix_sleeps)
        self.split_depth = split_depth
        #: Node index of each choice point (two or more options) of the current path.
        self.cp_nodes: list[int] = []
        #: Prefix enumeration (``split_depth``): ``(choice indices, sleep sets)`` per run.
        self.prefixes: list[tuple[tuple[int, ...], tuple[dict[Any, dict[Any, int]], ...]]] = []
        self.path: list[_Node] = []
        self.finished = False
        self.schedules = 0
        self.blocked = 0
        self.max_depth = 0
        self._valid = 0  # nodes before this index are unchanged since their races were found
        self._data_cut = False  # prefix enumeration: the run stopped at a data choice
        # race tables of the steps before _valid (kept between runs, see _races)
        # (each entry: step, access, context, and the position of the latest write at or
        # before it -- a read step walks the writes only: walking every read since the last
        # write is quadratic in a key that many steps read)
        self._hist: dict[Any, list[tuple[int, int, int, int]]] = {}
        self._last_of: dict[int, int] = {}
        self._keys: list[int] = []  # the context of each step whose races were handled
        self._clocks: list[dict[int, int]] = []
        self._log: list[tuple[int, int | None, tuple[Any, ...]]] = []

    # -- building the path ------------------------------------------------------------
    def _sleep_at(self, prev: _Node | None) -> dict[Any, dict[Any, int]]:
        """The sleep set of the node after ``prev``: what slept or was done there and is
        independent of the step taken."""
        sleep: dict[Any, dict[Any, int]] = {}
        if prev is not None and self.reduction and (prev.sleep or prev.done):
            pkey = prev.key
            pfp = prev.fp
            for src in (prev.sleep, prev.done):
                for k, f in src.items():
                    if k != pkey and _indep(f, pfp):
                        sleep[k] = f
        return sleep

    def new_node(self, i: int, keys: tuple[int, ...], forced: int | None = None,
                 full: bool = False) -> _Node:
        """Append the node for step ``i`` with options ``keys``; pick its first choice.

        ``full``: every option is a backtrack point (prefix enumeration: sleep sets only).
        """
        path = self.path
        prev = path[i - 1] if i else None
        sleep = self._sleep_at(prev)
        node = _Node(keys, sleep)
        pk = prev.key if prev is not None else None
        ppre = prev.pre if prev is not None else 0
        if forced is not None:
            key = forced
        else:
            if sleep:
                cand = [k for k in keys if k not in sleep]
                if not cand:
                    raise _Blocked
                first = cand[0]
            else:
                first = keys[0]
            if pk in keys:
                if pk in sleep:
                    if self.bound is not None and ppre + 1 > self.bound:
                        raise _Blocked
                    key = first
                else:
                    key = pk
            else:
                key = first
        node.key = key
        node.pre = ppre + (1 if (pk in keys and key != pk) else 0)
        if forced is None:
            if self.reduction and not full:
                node.backtrack[key] = None
            else:
                for k in keys:
                    node.backtrack[k] = None
        else:
            node.backtrack[key] = None
        path.append(node)
        return node

    # -- one run ----------------------------------------------------------------------
    def next_run(self) -> Outcome | None:
        """Explore the next schedule: its outcome, or ``None`` if the run was blocked."""
        if self.finished:
            raise IrqlabError("the exploration is finished")
        st = _DfsRun(self)
        self._pending: list[tuple[int, dict[Any, int]]] = []
        built = self.target.build(st)
        out: Outcome | None
        cut = False
        try:
            out = run_built(built, observe=self.target.observe, on_engine=st.on_engine,
                            fast=True)
            self.schedules += 1
        except _Blocked:
            out = None
            self.blocked += 1
        except _Cut:
            out = None
            cut = True
        self._pending = st.pending() if self.split_depth is None else []
        st.engine = None
        del self.cp_nodes[bisect_left(self.cp_nodes, len(self.path)):]  # (ascending)
        if self.split_depth is not None:
            if out is not None or cut:
                self.prefixes.append(self._prefix_of_path())
            self._data_cut = False
            # (a blocked run's subtree holds no schedule: every schedule through its
            # prefix is equivalent to one an earlier subtree holds)
        self.max_depth = max(self.max_depth, len(self.path))
        if self.reduction and self.split_depth is None:
            self._races()
        self._backtrack()
        return out

    def _prefix_of_path(self) -> tuple[tuple[int, ...], tuple[dict[Any, dict[Any, int]], ...]]:
        idx: list[int] = []
        sleeps: list[dict[Any, dict[Any, int]]] = []
        for i in self.cp_nodes:
            node = self.path[i]
            idx.append(node.enabled.index(node.key))
            sl = dict(node.sleep)
            for k, f in node.done.items():
                if k != node.key:
                    sl[k] = f
            sleeps.append(sl)
        return tuple(idx), tuple(sleeps)

    # -- race detection ---------------------------------------------------------------
    def _races(self) -> None:
        # Happens-before: vector clocks over the dependence of executed steps (a step
        # after the last write and the reads since of each object it touches).
        # Races (Flanagan-Godefroid): for step j of context p, every earlier dependent
        # step e of another context that does not happen before p's previous step and
        # is not after the last one before that previous step -- i.e. e was the last
        # dependent step before some state at which p's next step was j.  This also
        # finds races hidden behind the same context's later steps (an acquisition
        # behind its release, a read-section entry behind its exit, an irqsave
        # section's start behind its end).  Steps before self._valid are the previous
        # run's (same prefix): their races were handled then, and the tables (access
        # history per object, last step per context, clocks) are kept from that run:
        # only the entries of the steps that changed are undone.
        path = self.path
        keys = self._keys
        hist = self._hist
        last_of = self._last_of
        clocks = self._clocks
        log = self._log
        n = len(path)
        start = self._valid if self._valid < n else n
        while len(log) > start:  # undo the previous run's steps from `start` on
            q, prevq, fks = log.pop()
            for k in fks:
                hk = hist[k]
                hk.pop()
                if not hk:
                    del hist[k]
            if prevq is None:
                del last_of[q]
            else:
                last_of[q] = prevq
        del clocks[start:]
        del keys[start:]
        reverse = self._reverse
        for j in range(start, n):
            node = path[j]
            p = node.key
            keys.append(p)
            fp = node.fp
            prev = last_of.get(p)
            if prev is None:
                pclk: dict[int, int] = {}
                clk: dict[int, int] = {}
                prev = -1
            else:
                pclk = clocks[prev]
                clk = pclk.copy()
            cands: list[int] | None = None
            for k, v in fp.items():
                h = hist.get(k)
                if h is None:
                    hist[k] = [(j, v, p, 0 if v > _R else -1)]
                    continue
                e, ve, q, lw = h[-1]
                if e == prev and ve > _R:
                    # p's own previous step wrote k: nothing before it joins or races
                    h.append((j, v, p, len(h) if v > _R else lw))
                    continue
                if v == _R:
                    # a read: after the last write (happens-before); it races with writes
                    # only -- the walk below, over the writes alone
                    h.append((j, v, p, lw))
                    if lw < 0:
                        continue
                    e = h[lw][0]
                    if e != prev:
                        for q, t in clocks[e].items():
                            if clk.get(q, -1) < t:
                                clk[q] = t
                    while lw >= 0:
                        e, ve, q, _ = h[lw]
                        lw = h[lw - 1][3] if lw else -1
                        if q == p or pclk.get(q, -1) >= e:
                            if e <= prev:
                                break
                            continue
                        if cands is None:
                            cands = [e]
                        elif e not in cands:
                            cands.append(e)
                        if e < prev:
                            break
                    continue
                # happens-before: after p's previous step, the last write of k and, for a
                # write, the reads since
                vw = v > _R
                for e, ve, _q, _ in reversed(h):
                    if (vw or ve > _R) and e != prev:  # (p's previous step: clk has it)
                        for q, t in clocks[e].items():
                            if clk.get(q, -1) < t:
                                clk[q] = t
                    if ve > _R:
                        break
                # race candidates (Flanagan-Godefroid), for every state between p's
                # previous step and j (p's next step is j there): the last step dependent
                # with j, of another context, not happening before p's previous step --
                # every such step after p's previous step, and the last one before it
                for e, ve, q, _ in reversed(h):
                    if q == p or pclk.get(q, -1) >= e:
                        if e <= prev and ve > _R:
                            break  # a write before p's previous step: all earlier ones too
                        continue
                    if ve == _R and not vw:
                        continue
                    if ve * v == _W * _ACQ and k[0] in _LOCK_TYPES:
                        continue  # a release and an acquisition of one lock never reorder
                    if cands is None:
                        cands = [e]
                    elif e not in cands:
                        cands.append(e)
                    if e < prev:
                        break
                h.append((j, v, p, len(h)))  # (a write: reads took the branch above)
            clk[p] = j
            clocks.append(clk)
            if cands is not None:
                if len(cands) > 1:
                    cands.sort()
                for e in cands:
                    reverse(e, j, keys, clocks)
            log.append((p, None if prev < 0 else prev, tuple(fp)))
            last_of[p] = j
        # the blocked contexts' next operations, as if each ran next (not recorded)
        for p, fp in self._pending:
            prev = last_of.get(p)
            pclk = clocks[prev] if prev is not None else {}
            clk = self._join(prev, fp, p, n)
            keys.append(p)
            clocks.append(clk)
            for e in sorted(self._race_candidates(p, fp, -1 if prev is None else prev, pclk)):
                reverse(e, n, keys, clocks)
            keys.pop()
            clocks.pop()

    def _join(self, prev: int | None, fp: dict[Any, int], p: int, j: int) -> dict[int, int]:
        # after p's previous step, the last write of each object the step touches and,
        # for a write, the reads since (the tables as they are; see _races)
        clocks = self._clocks
        clk = dict(clocks[prev]) if prev is not None else {}
        for k, v in fp.items():
            h = self._hist.get(k)
            if not h:
                continue
            for e, ve, _q, _ in reversed(h):
                if ve > _R or v > _R:
                    for q, t in clocks[e].items():
                        if clk.get(q, -1) < t:
                            clk[q] = t
                if ve > _R:
                    break
        clk[p] = j
        return clk

    def _race_candidates(self, p: int, fp: dict[Any, int], prev: int,
                         pclk: dict[int, int]) -> set[int]:
        # as in _races: the last step dependent with j of another context, not happening
        # before p's previous step, for every state between that step and j
        out: set[int] = set()
        for k, v in fp.items():
            h = self._hist.get(k)
            if not h:
                continue
            for e, ve, q, _ in reversed(h):
                if q == p or pclk.get(q, -1) >= e:
                    if e <= prev and ve > _R:
                        break
                    continue
                if not _racy(k, ve, v):
                    continue
                out.add(e)
                if e < prev:
                    break
        return out

    def _reverse(self, e: int, j: int, keys: list[int], clocks: list[dict[int, int]]) -> None:
        node = self.path[e]
        bt = node.backtrack
        if node.frozen or len(bt) >= len(node.enabled):
            return  # nothing could be added there
        qe = keys[e]
        first: dict[int, int] = {}
        initials: list[int] = []
        for m in range(e + 1, j + 1):
            cm = clocks[m]
            if m != j and cm.get(qe, -1) >= e:
                continue  # happens after e: not part of the reordering
            q = keys[m]
            if q in first:
                continue
            for r, f in first.items():
                if cm.get(r, -1) >= f:
                    break
            else:
                if q in bt:
                    return  # a reordering starts there already
                initials.append(q)
            first[q] = m
        if not initials:
            return
        p = keys[j]
        q = p if p in initials else initials[0]
        self._add(e, q)
        if self.bound is not None:
            # Coons et al.: also at the start of the run of steps that e belongs to
            b = e
            while b > 0 and keys[b - 1] == qe:
                b -= 1
            if b != e:
                self._add(b, q)

    def _add(self, i: int, q: int) -> None:
        node = self.path[i]
        if node.frozen:
            return
        if q in node.enabled:
            node.backtrack.setdefault(q, None)
        else:
            for k in node.enabled:
                node.backtrack.setdefault(k, None)

    # -- backtracking -----------------------------------------------------------------
    def _backtrack(self) -> None:
        path = self.path
        bound = self.bound
        while path:
            i = len(path) - 1
            node = path[i]
            fp = node.fp
            if node.dn:
                if node.dfp:
                    fp = dict(node.dfp)
                    for k, v in node.fp.items():
                        if fp.get(k, 0) < v:
                            fp[k] = v
                if node.dv + 1 < node.dn:  # (also at a shard's frozen prefix node)
                    # the next value of the step's data choice (same context, same state)
                    node.dfp = fp
                    node.dv += 1
                    node.fp = {}
                    self._valid = i
                    return
                node.dn = node.dv = 0
                node.dfp = None
            node.done[node.key] = fp
            if not node.frozen:
                pk = path[i - 1].key if i else None
                ppre = path[i - 1].pre if i else 0
                for q in node.backtrack:
                    if q in node.done or q in node.sleep:
                        continue
                    pre = ppre + (1 if (pk in node.enabled and q != pk) else 0)
                    if bound is not None and pre > bound:
                        continue
                    node.key = q
                    node.pre = pre
                    node.fp = {}
                    self._valid = i
                    return
            path.pop()
            if self.cp_nodes and self.cp_nodes[-1] >= len(path):
                self.cp_nodes.pop()
        self.finished = True


Prefix = tuple[tuple[int, ...], tuple[dict[Any, dict[Any, int]], ...]]
#: The deepest prefix enumeration (:func:`iter_prefixes`) accepts, in choice points.
MAX_SPLIT_DEPTH = 64


def iter_prefixes(target: Target, depth: int, *, preemptions: int | None = None,
                  prefix: Sequence[int] = (),
                  prefix_sleeps: Sequence[dict[Any, dict[Any, int]]] = ()) -> Iterator[Prefix]:
    """The subtrees below the first ``depth`` choice points, yielded in DFS order as found.

    The generator form of :func:`split_prefixes`: each item is ready after one partial
    run (plus any sleep-blocked ones), so a consumer can hand the first subtrees out
    while the rest are enumerated.  ``prefix``/``prefix_sleeps``: enumerate one subtree
    only (a shard's own prefix, e.g. to re-split it): the items are exactly those of the
    whole tree's enumeration that lie in it, with the same sleep sets.  ``depth`` counts
    choice points from the root and must be at least ``len(prefix)``.
    """
    check_int("depth", depth, 0, MAX_SPLIT_DEPTH)
    if len(prefix) > depth:
        raise InvalidArgumentValue(
            f"depth must be at least the prefix length {len(prefix)}, not {depth!r}")
    ex = DfsExplorer(target, preemptions=preemptions, prefix=prefix,
                     prefix_sleeps=prefix_sleeps, split_depth=depth)
    out = ex.prefixes
    while not ex.finished:
        ex.next_run()
        while out:
            yield out.pop(0)


def split_prefixes(target: Target, depth: int, *, preemptions: int | None = None,
                   prefix: Sequence[int] = (),
                   prefix_sleeps: Sequence[dict[Any, dict[Any, int]]] = ()) -> list[Prefix]:
    """The subtrees below the first ``depth`` choice points, in DFS order, with sleep sets.

    Each item is ``(choice indices, sleep set per choice point)``: pass them as
    ``DfsExplorer(target, prefix=..., prefix_sleeps=...)``.  Prefixes whose runs end
    before ``depth`` choice points are shorter.  ``prefix``/``prefix_sleeps``: one
    subtree only (see :func:`iter_prefixes`).
    """
    return list(iter_prefixes(target, depth, preemptions=preemptions, prefix=prefix,
                              prefix_sleeps=prefix_sleeps))


def outcome_key(out: Outcome) -> tuple[str, tuple[Any, ...], str]:
    """What a user observes of a run: the engine outcome, the findings' kinds and sites
    (:func:`~irqlab.check.run.signature`) and the world's summary."""
    from irqlab.check.run import signature

    return (out.result.outcome, tuple(sorted(signature(f) for f in out.findings)),
            out.world.summary(out.result) if out.world is not None else "")


def outcomes(target: Any, *, reduction: bool = True, preemptions: int | None = None,
             budget: int | None = None) -> tuple[dict[Any, str], int, bool]:
    """Every distinct outcome a DFS of ``target`` (a :class:`~irqlab.check.run.Target`,
    scenario name or factory) reaches: ``({outcome: the schedule string of its first
    run}, schedules explored, finished)``.

    An outcome is :func:`outcome_key`: the engine outcome, the findings' kinds and sites,
    and the world's summary.  Comparing
    ``outcomes(t)`` with ``outcomes(t, reduction=False)`` checks a model's footprints: an
    outcome only the full search reaches means shared state the explorer cannot see
    (declare it with :func:`irqlab.sim.note_access`).  ``budget``: at most that many
    schedules (``finished`` says whether the search was complete).
    """
    if budget is not None:
        check_count("budget", budget, 1, 1 << 40)
    ex = DfsExplorer(make_target(target), preemptions=preemptions, reduction=reduction)
    seen: dict[Any, str] = {}
    while not ex.finished and (budget is None or ex.schedules < budget):
        out = ex.next_run()
        if out is None:
            continue
        seen.setdefault(outcome_key(out), out.result.schedule)
    return seen, ex.schedules, ex.finished
