"""Seed 000: ITS LPI pending tables across kexec, ``maxcpus=`` and CPU hotplug.

A 4-CPU machine whose redistributors keep ``EnableLPIs`` once set
(``lpis_sticky``), booted with ``maxcpus=2``.  ``kexec`` earlier kernels run
first (in ``setup``, deterministically): each boots and kexecs into the
next, so the explored kernel finds CPU0 and CPU1's redistributors
pre-programmed.  The explored kernel boots, then runs the hotplug
``sequence`` (``down1,up1``: take CPU1 down and up again; ``up2``: late
onlining of a never-booted CPU; ``|`` separates concurrent hotplug threads,
whose order the scheduler -- and so the explorer -- chooses).  The ITS driver's ONLINE memreserve
callback is the variant (``options["its_memreserve"]``):

* ``v1`` -- the posted two-flag patch.  Its callback is installed inside
  ``its_init``, so it runs on the boot CPU before ``its_cpu_init`` set that
  CPU's flags: after kexec the boot CPU reserves its *spare* page instead of
  freeing it -> ``invariant:memreserve-leak``.
* ``one-flag`` -- review's simplification without the once-per-CPU guard:
  after kexec, ``down1,up1`` reserves address 0 -> ``invariant:reserve-null``
  (cold boot, ``kexec=0``: it frees the table CPU1's redistributor uses ->
  ``invariant:free-in-use-table``).
* ``merged`` -- 5.17: clean.
* ``starting`` -- before 5.17: free or reserve right in the STARTING path,
  interrupts off; the reservation may sleep -> the checker's
  ``sleep-in-atomic`` (the bug the thread set out to fix).

Invariants (checked after the run, against the hardware's GICR_PENDBASER /
PROPBASER read through the bus): nothing reserved at address 0
(``reserve-null``); no table in use freed (``free-in-use-table``) or
handed out by the page allocator (``in-use-table-handed-out``); every
pending-table reservation in the persistent table is a table in use
(``memreserve-leak``); per CPU exactly one reserve-or-free
(``reserve-or-free-once``).  Sleeping with interrupts off is the checker's
``sleep-in-atomic``.
"""

from __future__ import annotations

from typing import Any

from irqlab import sim
from irqlab.arch import gicv3 as g
from irqlab.check.findings import Finding
from irqlab.errors import check_int
from irqlab.hw.machine import Machine
from irqlab.kernel.drivers.its_lpi import LPI_PENDBASE_SZ, LPI_PROPBASE_SZ
from irqlab.kernel.kernel import Kernel
from irqlab.kernel.mm import PAGE_SIZE
from irqlab.scenarios._base import Scenario, Variant, World

_PEND_MASK = ((1 << 52) - 1) & ~0xFFFF
_PROP_MASK = ((1 << 52) - 1) & ~0xFFF


def parse_sequence(seq: str, ncpus: int) -> list[list[tuple[str, int]]] | int:
    """``"down1,up1|up2"`` -> ``[[("down", 1), ("up", 1)], [("up", 2)]]``; ``"?N"`` -> N.

    ``|`` separates concurrent hotplug threads (their order is the
    scheduler's choice); ``?N`` asks for N operations chosen by the strategy
    (data choice points).  Raises :class:`InvalidArgumentValue` if malformed.
    """
    if seq.startswith("?"):
        from irqlab.errors import InvalidArgumentValue

        if not seq[1:].isdigit() or not seq[1:].isascii() or not 1 <= int(seq[1:]) <= 8:
            raise InvalidArgumentValue(
                f"sequence must be '?N' with 1 <= N <= 8 (N chosen operations), not {seq!r}")
        return int(seq[1:])
    return [_parse_ops(part, seq, ncpus) for part in seq.split("|")]


def _parse_ops(part: str, seq: str, ncpus: int) -> list[tuple[str, int]]:
    from irqlab.errors import InvalidArgumentValue

    ops = []
    for item in filter(None, (s.strip() for s in part.split(","))):
        for verb in ("down", "up"):
            if item.startswith(verb) and item[len(verb):].isdigit():
                cpu = int(item[len(verb):])
                if 0 < cpu < ncpus:
                    ops.append((verb, cpu))
                    break
        else:
            raise InvalidArgumentValue(
                f"sequence must be comma-separated downN/upN with 0 < N < {ncpus} "
                f"('|' between concurrent threads), not {seq!r}")
    return ops


def tables_in_use(machine: Machine) -> dict[int, tuple[int, int]]:
    """CPU -> (pending table, property table) of every redistributor with EnableLPIs set."""
    out = {}
    hw = machine.cpus[0]
    for cpu in range(len(machine.cpus)):
        rd = int(machine.config.redistributor_base(cpu))
        if hw.read(rd + g.GICR_CTLR_OFF) & 1:
            out[cpu] = (hw.read(rd + g.GICR_PENDBASER_OFF, 8) & _PEND_MASK,
                        hw.read(rd + g.GICR_PROPBASER_OFF, 8) & _PROP_MASK)
    return out


class _Recorder:
    """The memory events of the explored run (and the hotplug operation in progress)."""

    def __init__(self) -> None:
        self.step = "boot"
        self.reserves: list[tuple[int | None, int, int, str]] = []   # cpu, addr, size, when
        self.frees: list[tuple[int | None, int, int, str, str]] = []  # cpu, addr, size, label
        self.allocs: list[tuple[int, int, str]] = []                  # addr, size, when
        self.actions: list[tuple[int, str]] = []                      # cpu, what (in order)

    def __call__(self, ev: Any) -> None:
        k = ev.kind
        if k == "kernel_booted":
            self.step = "booted"
        elif k in ("cpuhp_up", "cpuhp_down") and self.step != "boot":
            self.step = f"{k[6:]}{ev.args['target']}"
        elif k == "mm_memreserve" and ev.get("label") == "its_pending_table":
            self.reserves.append((ev.cpu, ev.args["addr"], ev.args["size"], self.step))
            self.actions.append((ev.cpu, f"reserve {ev.args['addr']:#x} at {self.step}"))
        elif k == "mm_free_pages":
            f = ev.args
            self.frees.append((ev.cpu, f["addr"], PAGE_SIZE << f["order"], f.get("label", ""),
                               self.step))
            if f.get("label") == "its_free_pending_table":
                self.actions.append((ev.cpu, f"free {f['addr']:#x} at {self.step}"))
        elif k == "mm_alloc_pages" and ev.args["addr"]:
            f = ev.args
            self.allocs.append((f["addr"], PAGE_SIZE << f["order"], self.step))


def _overlaps(a: int, asz: int, b: int, bsz: int) -> bool:
    return a < b + bsz and b < a + asz


def _setup(world: World) -> None:
    p = world.params
    check_int("kexec", p["kexec"], 0, 16)
    machine = Machine.virt(cpus=4, lpis_sticky=True)
    opts = {"its_memreserve": world.variant}
    ops = parse_sequence(p["sequence"], 4)
    kernel: Kernel | None = None
    for gen in range(p["kexec"]):       # earlier generations: boot, then kexec
        eng = sim.Engine(machine=machine, strategy=sim.RoundRobin(),
                         fingerprint=f"{world.state['fingerprint']}/gen{gen}")
        kernel = (Kernel(machine, eng, maxcpus=2, options=opts) if kernel is None
                  else kernel.kexec(eng))
        eng.spawn(0, kernel.boot, name="init")
        res = eng.run()
        if res.outcome != "ok":
            raise RuntimeError(f"its-memreserve: generation {gen} did not boot: {res.error}")
    eng = sim.Engine(machine=machine, strategy=world.state["strategy"],
                     fingerprint=world.state["fingerprint"])
    k = Kernel(machine, eng, maxcpus=2, options=opts) if kernel is None else kernel.kexec(eng)
    rec = _Recorder()
    inherited = tables_in_use(machine)

    async def hotplug(group: list[tuple[str, int]]) -> None:
        for verb, cpu in group:
            if verb == "up":
                await k.cpuhp.cpu_up(cpu)
            else:
                await k.cpuhp.cpu_down(cpu)

    async def chosen(n: int) -> None:
        # n operations, each picked by the strategy among those possible now: take an
        # online secondary CPU down, or bring an offline one (re-)online
        for _ in range(n):
            can = [("down", c) for c in range(1, 4) if eng.cpu_online(c)] + [
                ("up", c) for c in range(1, 4) if not eng.cpu_online(c)]
            verb, cpu = can[await sim.choose(len(can), "hotplug op")]
            world.state["chosen"].append(f"{verb}{cpu}")
            await hotplug([(verb, cpu)])

    async def init() -> None:
        await k.boot()
        if isinstance(ops, int):
            await chosen(ops)
            return
        for i, group in enumerate(ops[1:], 1):     # concurrent hotplug threads
            eng.spawn(0, hotplug, group, name=f"hotplug{i}")
        await hotplug(ops[0])

    machine.events.subscribe(rec)
    eng.spawn(0, init, name="init")
    world.engine, world.machine, world.kernel = eng, machine, k
    world.state.update(recorder=rec, inherited=inherited, ops=ops, chosen=[])
    world.invariants.append(_check)
    world.describe = _describe


def _check(world: World, result: Any) -> list[Finding]:
    if result.outcome != "ok":
        return []
    rec: _Recorder = world.state["recorder"]
    machine = world.machine
    k = world.kernel
    inherited: dict[int, tuple[int, int]] = world.state["inherited"]
    in_use = tables_in_use(machine)
    tables: list[tuple[int | None, int, int, str]] = [
        (cpu, pend, LPI_PENDBASE_SZ, "pending") for cpu, (pend, _) in in_use.items()]
    props = sorted({prop for _, prop in in_use.values()})
    tables += [(None, prop, LPI_PROPBASE_SZ, "property") for prop in props]
    inherited_addrs = {t for pair in inherited.values() for t in pair}
    seq = world.params["sequence"]
    if world.state["chosen"]:
        seq = f"{seq} = {','.join(world.state['chosen'])}"
    where = f"kexec={world.params['kexec']}, maxcpus=2, sequence {seq!r}"
    out: list[Finding] = []

    for cpu, addr, _size, when in rec.reserves:
        if addr == 0:
            out.append(Finding("invariant:reserve-null",
                               f"CPU{cpu} reserved a 64 KiB pending table at address 0 "
                               f"(at {when}; {where})", data={"cpu": cpu, "when": when}))
    for cpu, addr, size, label, when in rec.frees:
        for owner, t, tsz, kind in tables:
            if _overlaps(addr, size, t, tsz):
                whose = f"CPU{owner}'s redistributor" if owner is not None else "every CPU"
                out.append(Finding("invariant:free-in-use-table",
                                   f"CPU{cpu} freed {addr:#x} ({label}), the {kind} table "
                                   f"{whose} uses (at {when}; {where})",
                                   data={"cpu": cpu, "addr": addr, "when": when}))
    seen: set[int] = set()
    for addr, size, when in rec.allocs:
        for owner, t, tsz, kind in tables:
            if not _overlaps(addr, size, t, tsz):
                continue
            if t in inherited_addrs or t in seen:
                user = f"CPU{owner}" if owner is not None else "every CPU"
                out.append(Finding("invariant:in-use-table-handed-out",
                                   f"the page allocator handed out {addr:#x}, inside the {kind} "
                                   f"table at {t:#x} in use by "
                                   f"{user} "
                                   f"(at {when}; {where})", data={"addr": addr, "when": when}))
            seen.add(t)
    used = {t for _, t, _, _ in tables}
    leaked = [(a, s) for a, s in k.memreserve.entries() if a and a not in used]
    if leaked:
        mine = [(cpu, a, when) for cpu, a, _s, when in rec.reserves if a and a not in used]
        who = ", ".join(f"CPU{c} reserved {a:#x} at {w}" for c, a, w in mine) or "earlier"
        out.append(Finding("invariant:memreserve-leak",
                           f"{len(leaked)} persistent reservation(s) no redistributor uses "
                           f"({who}; {where}): leaked, and reserved again by every later kernel",
                           data={"leaked": [a for a, _ in leaked]}))
    acts: dict[int, list[str]] = {}
    for cpu, what in rec.actions:
        acts.setdefault(cpu if cpu is not None else -1, []).append(what)
    for cpu in sorted(set(acts) | set(k.cpuhp.cpus_booted_once)):
        n = len(acts.get(cpu, []))
        if n != 1:
            what = "; ".join(acts.get(cpu, [])) or "nothing"
            out.append(Finding("invariant:reserve-or-free-once",
                               f"CPU{cpu} did {n} pending-table reserve-or-free actions "
                               f"({what}; {where})", data={"cpu": cpu, "count": n}))
    return out


def _describe(world: World, result: Any) -> str:
    rec: _Recorder = world.state["recorder"]
    k = world.kernel
    lines = [f"generation {k.generation}, online CPUs {list(k.online_cpus)}, "
             f"booted once {list(k.cpuhp.cpus_booted_once)}"]
    if world.state["chosen"]:
        lines.append(f"  hotplug operations chosen: {','.join(world.state['chosen'])}")
    for cpu, (pend, _prop) in sorted(tables_in_use(world.machine).items()):
        lines.append(f"  CPU{cpu}: GICR_PENDBASER table {pend:#x}")
    for cpu, what in rec.actions:
        lines.append(f"  CPU{cpu}: {what}")
    lines.append(f"  persistent table: {len(k.memreserve)} entries")
    return "\n".join(lines)


SCENARIO = Scenario(
    name="its-memreserve",
    seed="000",
    title="ITS LPI pending tables across kexec, maxcpus= and CPU hotplug",
    variants=(
        Variant("merged", "5.17: once-per-CPU done flag, installed after boot CPU init"),
        Variant("one-flag", "single flag, no once-per-CPU guard (review suggestion)",
                expect="invariant:reserve-null"),
        Variant("v1", "two flags; callback installed inside its_init",
                expect="invariant:memreserve-leak"),
        Variant("starting", "before 5.17: reserve in the STARTING path, interrupts off",
                expect="sleep-in-atomic"),
    ),
    setup=_setup,
    params={"kexec": 1, "sequence": "down1,up1,up2,up3"},
)
