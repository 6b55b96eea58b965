"""Hypothesis fuzzing of the GICv3 model's guest-facing interfaces.

Random sequences of GICD/GICR MMIO accesses (any size, any offset), ICC_*
system-register accesses, device line changes, message-based SPIs and LPI
operations.  After every step: no exception but ExternalAbort (misaligned
access; a bad size is RAZ/WI); each CPU's IRQ/FIQ lines and ICC_HPPIR equal a slow reference
computed by brute force over every interrupt (no heaps, no caches of the HPPI);
an INTID returned by ICC_IAR was the reference's signalled HPPI and is
afterwards active (SGI/PPI/SPI) or no longer pending (LPI).
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irqlab import ExternalAbort, Machine

GICD = 0x0800_0000
RAM = 0x4000_0000
PROP = RAM + 0x10_0000
PEND = RAM + 0x20_0000
NCPU = 3
LPIS = [8192 + k for k in range(12)]

u32 = st.one_of(st.integers(0, 0xFFFF_FFFF), st.sampled_from([0, 1, 3, 0xFF, 0xFFFF_FFFF]),
                st.integers(0, 63))
sizes = st.sampled_from([4, 4, 4, 1, 8, 2])
gicd_offs = st.one_of(
    st.sampled_from([0x0, 0x4, 0x8, 0x40, 0x48, 0x84, 0x104, 0x184, 0x204, 0x284, 0x304, 0x384,
                     0xC08, 0xC0C, 0xD04, 0xF00, 0xFFE8]),
    st.integers(0x420, 0x43F), st.integers(0x6100, 0x61FF), st.integers(0, 0xFFFF))
gicr_offs = st.one_of(
    st.sampled_from([0x0, 0x8, 0xC, 0x14, 0x40, 0x48, 0x70, 0x78, 0xA0, 0xB0, 0xC0,
                     0x1_0080, 0x1_0100, 0x1_0180, 0x1_0200, 0x1_0280, 0x1_0300, 0x1_0380,
                     0x1_0C00, 0x1_0C04, 0x1_0D00]),
    st.integers(0x1_0400, 0x1_041F), st.integers(0, 0x1_FFFF))
intids = st.one_of(st.integers(0, 63), st.sampled_from([*LPIS, 1020, 1023]))
sysreg_w = st.sampled_from(["ICC_PMR_EL1", "ICC_BPR0_EL1", "ICC_BPR1_EL1", "ICC_CTLR_EL1",
                            "ICC_IGRPEN0_EL1", "ICC_IGRPEN1_EL1", "ICC_AP0R0_EL1",
                            "ICC_AP1R0_EL1", "ICC_SRE_EL1"])
eoi_regs = st.sampled_from(["ICC_EOIR0_EL1", "ICC_EOIR1_EL1", "ICC_DIR_EL1"])
cpus = st.integers(0, NCPU - 1)

ops = st.one_of(
    st.tuples(st.just("gicd_w"), cpus, gicd_offs, u32, sizes),
    st.tuples(st.just("gicd_r"), cpus, gicd_offs, sizes),
    st.tuples(st.just("gicr_w"), cpus, cpus, gicr_offs, u32, sizes),
    st.tuples(st.just("gicr_r"), cpus, cpus, gicr_offs, sizes),
    st.tuples(st.just("gicr_baser"), cpus),
    st.tuples(st.just("sys_w"), cpus, sysreg_w, st.one_of(u32, st.just(0xFF))),
    st.tuples(st.just("eoi"), cpus, eoi_regs, intids),
    st.tuples(st.just("sgi"), cpus, st.sampled_from(["ICC_SGI0R_EL1", "ICC_SGI1R_EL1",
                                                     "ICC_ASGI1R_EL1"]),
              st.integers(0, 15), st.integers(0, 7), st.booleans()),
    st.tuples(st.just("iar"), cpus, st.integers(0, 1)),
    st.tuples(st.just("line"), cpus, st.integers(16, 63), st.booleans()),
    st.tuples(st.just("setspi"), st.booleans(), st.integers(0, 80)),
    st.tuples(st.just("lpi"), cpus, st.sampled_from(LPIS),
              st.sampled_from(["set", "clear", "inv"])),
    st.tuples(st.just("lpi_cfg"), st.sampled_from(LPIS), st.integers(0, 255)),
    st.tuples(st.just("lpi_move"), cpus, cpus, st.sampled_from([*LPIS, None])),
)


def build(prios: bytes = bytes(64)) -> Machine:
    """A booted machine: groups enabled, everything enabled with ``prios``, LPIs on."""
    m = Machine.virt(cpus=NCPU, its=False, spis=32, direct_lpi=True)
    c = m.cpus[0]
    c.write(GICD, 3)
    c.write(GICD + 0x84, 0xFFFF_0000)  # SPIs 32..47 Group 0, 48..63 Group 1
    c.write(GICD + 0x104, 0xFFFF_FFFF)
    c.write(GICD + 0x6000 + 8 * 40, 1 << 31)  # SPI 40: 1-of-N
    c.write(GICD + 0x6000 + 8 * 50, 2)  # SPI 50 to CPU 2
    c.write(GICD + 0xC0C, 0xAAAA_AAAA)  # SPIs 48..63 edge-triggered
    for i in range(32, 64):
        c.write(GICD + 0x400 + i, prios[i], 1)
    for i, cpu in enumerate(m.cpus):
        base = m.config.redistributor_base(i)
        cpu.write(base + 0x14, 0)
        cpu.write(base + 0x1_0080, 0xFFFF_00F0)  # SGIs 0-3, 8-15 and PPIs 16-31: Group 1
        cpu.write(base + 0x1_0100, 0xFFFF_FFFF)
        for j in range(32):
            cpu.write(base + 0x1_0400 + j, prios[j] ^ (i * 0x18), 1)
        cpu.write(base + 0x70, PROP | 15, 8)
        cpu.write(base + 0x78, PEND + i * 0x1_0000, 8)
        cpu.write(base, 1)
        cpu.write_sysreg("ICC_PMR_EL1", 0xFF)
        cpu.write_sysreg("ICC_IGRPEN0_EL1", 1)
        cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)
    for k, intid in enumerate(LPIS):
        m.ram_write(PROP + intid - 8192, bytes([(prios[k] & 0xFC) | 1]))
    return m


def route(m: Machine, i: int) -> int:
    """Reference routing of SPI ``i`` from IROUTER (independent of the model's target list)."""
    v = m.gic.dist.irouter[i]
    if v >> 31 & 1:
        g = m.gic.dist.bank.group[i]
        for k in range(NCPU):
            if m.gic.cpuifs[k].igrpen[g] and not m.gic.redists[k].asleep:
                return k
        return -1
    if v >> 8 & 0xFFFFFF:
        return -1
    return v & 0xFF if (v & 0xFF) < NCPU else -1


def reference(m: Machine, k: int) -> tuple[tuple[int, int, int] | None, bool]:
    """(HPPI as (prio, intid, group) or None, whether it is signalled) by brute force."""
    gic = m.gic
    r = gic.redists[k]
    ci = gic.cpuifs[k]
    if r.asleep:
        return None, False
    cands = []
    for g in (0, 1):
        if not (gic.dist.grp_enable[g] and ci.igrpen[g]):
            continue
        rb, db = r.bank, gic.dist.bank
        for b, lo, hi in ((rb, 0, 32), (db, 32, gic.dist.end)):
            for i in range(lo, hi):
                if b.group[i] != g or not b.enabled[i] or b.active[i] or not b.pending(i):
                    continue
                if i >= 32 and route(m, i) != k:
                    continue
                cands.append((b.prio[i], i, g))
        if g == 1 and r.lpis_enabled:
            for i in r.lpi_pending:
                cfg = r.lpi_cfg[i]
                if cfg & 1:
                    cands.append((cfg & 0xFC, i, 1))  # 8-bit stored priority, [1:0] RES0
    if not cands:
        return None, False
    best = min(cands)
    p, _, g = best
    cpu = m.cpus[k]
    pmr = cpu.read_sysreg("ICC_PMR_EL1")
    ap = cpu.read_sysreg("ICC_AP0R0_EL1") | cpu.read_sysreg("ICC_AP1R0_EL1")
    if p >= pmr:
        return best, False
    if not ap:
        return best, True
    rprio = ((ap & -ap).bit_length() - 1) << 3
    if g == 0 or cpu.read_sysreg("ICC_CTLR_EL1") & 1:
        bpr = cpu.read_sysreg("ICC_BPR0_EL1")
    else:
        bpr = cpu.read_sysreg("ICC_BPR1_EL1") - 1
    mask = (0xFF << (bpr + 1)) & 0xFF
    return best, (p & mask) < (rprio & mask)


def check(m: Machine) -> None:
    for k, cpu in enumerate(m.cpus):
        best, sig = reference(m, k)
        assert cpu.irq_line == (sig and best is not None and best[2] == 1), (k, best, sig)
        assert cpu.fiq_line == (sig and best is not None and best[2] == 0), (k, best, sig)
        for g in (0, 1):
            want = best[1] if best is not None and best[2] == g else 1023
            assert cpu.read_sysreg(f"ICC_HPPIR{g}_EL1") == want


def run(m: Machine, op: tuple) -> None:
    kind = op[0]
    gic = m.gic
    try:
        if kind == "gicd_w":
            _, c, off, v, size = op
            m.cpus[c].write(GICD + (off & ~(size - 1) if size != 2 else off), v, size)
        elif kind == "gicd_r":
            _, c, off, size = op
            m.cpus[c].read(GICD + off, size)
        elif kind == "gicr_w":
            _, c, r, off, v, size = op
            m.cpus[c].write(m.config.redistributor_base(r) + off, v, size)
        elif kind == "gicr_r":
            _, c, r, off, size = op
            m.cpus[c].read(m.config.redistributor_base(r) + off, size)
    except ExternalAbort as e:
        assert e.address % e.size, e  # only misaligned accesses abort; bad sizes are RAZ/WI
        return
    if kind == "gicr_baser":
        base = m.config.redistributor_base(op[1])
        cpu = m.cpus[op[1]]
        cpu.write(base + 0x70, PROP | 15, 8)
        cpu.write(base + 0x78, PEND + op[1] * 0x1_0000, 8)
        cpu.write(base, 1)
    elif kind == "sys_w" or kind == "eoi":
        m.cpus[op[1]].write_sysreg(op[2], op[3])
    elif kind == "sgi":
        _, c, name, intid, tl, irm = op
        m.cpus[c].write_sysreg(name, (intid << 24) | tl | (int(irm) << 40))
    elif kind == "iar":
        _, c, g = op
        best, sig = reference(m, c)
        got = m.cpus[c].read_sysreg(f"ICC_IAR{g}_EL1")
        if sig and best is not None and best[2] == g:
            assert got == best[1]
            if got >= 8192:
                assert not gic.redists[c].lpi_is_pending(got)
            else:
                assert gic.is_active(got, c if got < 32 else None)
        else:
            assert got == 1023
    elif kind == "ack":
        # A well-behaved handler: acknowledge what is signalled, EOI in nesting order.
        c = op[1]
        cpu = m.cpus[c]
        stack = m.__dict__.setdefault("_acked", {}).setdefault(c, [])
        if op[2] and stack:
            intid, g = stack.pop()
            cpu.write_sysreg(f"ICC_EOIR{g}_EL1", intid)
            if cpu.read_sysreg("ICC_CTLR_EL1") & 2:
                cpu.write_sysreg("ICC_DIR_EL1", intid)
        elif cpu.irq_line or cpu.fiq_line:
            g = 1 if cpu.irq_line else 0
            best, sig = reference(m, c)
            got = cpu.read_sysreg(f"ICC_IAR{g}_EL1")
            assert sig and best is not None and got == best[1]
            stack.append((got, g))
    elif kind == "line":
        _, c, intid, level = op
        m.set_interrupt_level(intid, level, cpu=c if intid < 32 else None)
    elif kind == "setspi":
        _, clear, intid = op
        m.device_write(3, GICD + (0x48 if clear else 0x40), intid)
    elif kind == "lpi":
        _, c, intid, what = op
        r = gic.redists[c]
        if what == "set":
            r.lpi_set_pending(intid)
        elif what == "clear":
            r.lpi_clear_pending(intid)
        else:
            r.lpi_invalidate(intid)
    elif kind == "lpi_cfg":
        m.ram_write(PROP + op[1] - 8192, bytes([op[2]]))
    elif kind == "lpi_move":
        _, a, b, intid = op
        if intid is None:
            gic.redists[a].lpi_move_all(gic.redists[b])
        else:
            gic.redists[a].lpi_move_pending(intid, gic.redists[b])


prio_tables = st.binary(min_size=64, max_size=64)
busy_ops = st.one_of(ops, st.tuples(st.just("line"), cpus, st.integers(16, 63), st.booleans()),
                     st.tuples(st.just("iar"), cpus, st.integers(0, 1)),
                     st.tuples(st.just("ack"), cpus, st.booleans()),
                     st.tuples(st.just("ack"), cpus, st.booleans()),
                     st.tuples(st.just("eoi"), cpus, eoi_regs, intids),
                     st.tuples(st.just("lpi"), cpus, st.sampled_from(LPIS), st.just("set")))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prio_tables, st.lists(busy_ops, min_size=1, max_size=50))
def test_fuzz_gicv3(prios: bytes, seq: list[tuple]) -> None:
    m = build(prios)
    for op in seq:
        run(m, op)
        check(m)


@settings(max_examples=60, deadline=None)
@given(st.lists(ops, min_size=1, max_size=30))
def test_fuzz_gicv3_with_events(seq: list[tuple]) -> None:
    """From reset (nothing enabled), with an event subscriber: every event renders."""
    m = Machine.virt(cpus=NCPU, its=False, spis=32, direct_lpi=True)
    rec = m.events.record(maxlen=100)
    for op in seq:
        run(m, op)
        check(m)
    for e in rec:
        assert e.text()


def random_op(rnd: random.Random) -> tuple:
    """One operation for the seeded random walk, biased towards interrupt traffic."""
    c = rnd.randrange(NCPU)
    k = rnd.random()
    if k < 0.25:
        return ("ack", c, rnd.random() < 0.45)
    if k < 0.45:
        return ("line", c, rnd.randrange(16, 64), rnd.random() < 0.6)
    if k < 0.6:
        return ("lpi", c, rnd.choice(LPIS), rnd.choice(["set", "set", "set", "clear", "inv"]))
    if k < 0.65:
        return ("sgi", c, rnd.choice(["ICC_SGI0R_EL1", "ICC_SGI1R_EL1"]), rnd.randrange(16),
                rnd.randrange(8), rnd.random() < 0.2)
    if k < 0.72:
        name = rnd.choice(["ICC_PMR_EL1", "ICC_BPR0_EL1", "ICC_BPR1_EL1", "ICC_CTLR_EL1",
                           "ICC_IGRPEN0_EL1", "ICC_IGRPEN1_EL1"])
        v = {"ICC_PMR_EL1": rnd.choice([0xFF, 0xF0, 0x80, rnd.randrange(256)]),
             "ICC_CTLR_EL1": rnd.randrange(4)}.get(name, rnd.choice([1, 1, 0, rnd.randrange(8)]))
        return ("sys_w", c, name, v)
    if k < 0.78:
        return ("iar", c, rnd.randrange(2))
    if k < 0.82:
        return ("eoi", c, rnd.choice(["ICC_EOIR0_EL1", "ICC_EOIR1_EL1", "ICC_DIR_EL1"]),
                rnd.choice(list(range(64)) + LPIS))
    if k < 0.86:
        return ("lpi_move", c, rnd.randrange(NCPU), rnd.choice([*LPIS, None]))
    if k < 0.88:
        return ("lpi_cfg", rnd.choice(LPIS), rnd.randrange(256))
    if k < 0.9:
        return ("setspi", rnd.random() < 0.3, rnd.randrange(32, 64))
    if k < 0.95:
        off = rnd.choice([0x0, 0x84, 0x104, 0x184, 0x204, 0x284, 0x304, 0x384, 0xC08, 0xC0C,
                          0x6000 + 8 * rnd.randrange(32, 64), 0x400 + rnd.randrange(32, 64)])
        v = rnd.choice([0xFFFF_FFFF, 0, 3, rnd.getrandbits(32), 1 << rnd.randrange(32)])
        return ("gicd_w", c, off, v, 4)
    off = rnd.choice([0x0, 0x14, 0xA0, 0xB0, 0x1_0080, 0x1_0100, 0x1_0180, 0x1_0200,
                      0x1_0280, 0x1_0300, 0x1_0380, 0x1_0C04, 0x1_0400 + 4 * rnd.randrange(8)])
    v = rnd.choice([0xFFFF_FFFF, 0, 1, rnd.getrandbits(32), 1 << rnd.randrange(32)])
    if off == 0x14:
        v = rnd.choice([0, 0, 0, 2])
    if off == 0x0:
        v = rnd.choice([1, 1, 1, 0])
    return ("gicr_w", c, rnd.randrange(NCPU), off, v, 4)


@settings(max_examples=25, deadline=None)
@given(prio_tables, st.integers(0, 2**32))
def test_random_walk(prios: bytes, seed: int) -> None:
    """Long seeded walks (400 steps) reach deep states that short lists do not."""
    rnd = random.Random(seed)
    m = build(prios)
    for _ in range(400):
        run(m, random_op(rnd))
        check(m)
