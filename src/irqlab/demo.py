"""The demo run: boot a machine from a device tree and route a PCI device's MSI-X through the ITS.

Everything is done the way a driver does it, through the public bus-level API
only (CPU loads and stores, system-register accesses, the device's own MSI
writes); no model internals are touched.  The sequence follows Linux's
``irq-gic-v3.c`` / ``irq-gic-v3-its.c`` and the PCI MSI-X core:

1. GICD_CTLR: affinity routing and Group 1 enabled;
2. each CPU finds its redistributor by walking the GICR frames (GICR_TYPER
   affinity, ``Last``), wakes it (GICR_WAKER.ProcessorSleep = 0, wait for
   ChildrenAsleep = 0), and programs its CPU interface (ICC_PMR_EL1,
   ICC_BPR1_EL1, ICC_CTLR_EL1, ICC_IGRPEN1_EL1);
3. the LPI property table (one byte per LPI) and one pending table per CPU
   are allocated in RAM, GICR_PROPBASER / GICR_PENDBASER are written and
   GICR_CTLR.EnableLPIs set;
4. the ITS: GITS_TYPER read, GITS_BASER<n> programmed for the device and
   collection tables (flat, or two-level when the DeviceID space is large),
   GITS_CBASER for a 64 KiB command queue, GITS_CTLR.Enabled, one MAPC per
   CPU (ICID n -> CPU n) and SYNC;
5. the PCI function: found in ECAM config space, its MSI-X capability parsed,
   BAR0 read (or assigned in the MMIO window), MSI-X table entries written
   (address GITS_TRANSLATER, data = EventID), MSI-X and bus mastering enabled;
6. MAPD the device (its ITT in RAM), MAPTI + INV each vector (vector v ->
   LPI 8192 + v in collection v mod ncpus), SYNC;
7. the device fires every vector; each CPU acknowledges through
   ICC_IAR1_EL1 and EOIs through ICC_EOIR1_EL1 until nothing is pending.

:func:`run_demo` returns a :class:`DemoResult`: where each vector landed, the
driver's log and every event the machine emitted.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irqlab.arch.pci import (
    PCI_BASE_ADDRESS_0,
    PCI_CAP_ID_MSIX,
    PCI_CAPABILITY_LIST,
    PCI_COMMAND,
    PCI_COMMAND_MASTER,
    PCI_COMMAND_MEMORY,
    PCI_MSIX_FLAGS_ENABLE,
    PCI_MSIX_FLAGS_MASKALL,
    PCI_STATUS,
)
from irqlab.errors import InvalidArgumentValue, check_int
from irqlab.events import Event
from irqlab.hw.config import MachineConfig, PciFunctionConfig
from irqlab.hw.machine import Machine

__all__ = ["DEMO_BDF", "DemoFailure", "DemoResult", "MiniDriver", "VectorRoute", "run_demo"]

#: The demo's PCI function: 00:01.0 (an NVMe-like device with an MSI-X table).
DEMO_BDF = 0x08
LPI_BASE = 8192
#: Linux's LPI_PROP_DEFAULT_PRIO | LPI_PROP_GROUP1 | LPI_PROP_ENABLED.
LPI_PROP = 0xA0 | 0x2 | 0x1
_SZ_64K = 0x1_0000
_SPURIOUS = 1023

# -- spec encodings a driver carries (IHI 0069; PCIe base spec) --------------------------
GICD_CTLR, GICD_CTLR_ARE, GICD_CTLR_GRP1 = 0x0000, 1 << 4, 1 << 1
GICR_CTLR, GICR_TYPER, GICR_WAKER = 0x0000, 0x0008, 0x0014
GICR_PROPBASER, GICR_PENDBASER = 0x0070, 0x0078
GICR_WAKER_PS, GICR_WAKER_CA = 1 << 1, 1 << 2
GICR_PENDBASER_PTZ = 1 << 62
GITS_CTLR, GITS_TYPER, GITS_CBASER, GITS_CWRITER, GITS_CREADR = 0x0, 0x8, 0x80, 0x88, 0x90
GITS_BASER0 = 0x100
GITS_TRANSLATER = 0x1_0040
BASER_VALID, BASER_INDIRECT = 1 << 63, 1 << 62
BASER_TYPE_DEVICE, BASER_TYPE_COLLECTION = 1, 4
CMD_MOVALL, CMD_SYNC, CMD_MAPD, CMD_MAPC, CMD_MAPTI, CMD_INV = 0x0E, 0x05, 0x08, 0x09, 0x0A, 0x0C


@dataclass(frozen=True)
class VectorRoute:
    """Where one MSI-X vector went: the ITS mapping the driver made and the CPU that took it."""

    vector: int
    devid: int
    eventid: int
    intid: int
    expected_cpu: int
    cpu: int | None  # the CPU that acknowledged it; None if it never arrived

    @property
    def ok(self) -> bool:
        return self.cpu == self.expected_cpu

    def as_dict(self) -> dict[str, Any]:
        return {"vector": self.vector, "devid": self.devid, "eventid": self.eventid,
                "intid": self.intid, "expected_cpu": self.expected_cpu, "cpu": self.cpu,
                "ok": self.ok}


@dataclass
class DemoResult:
    """What :func:`run_demo` did and saw."""

    machine: Machine
    source: str
    bdf: int
    devid: int
    routes: list[VectorRoute]
    log: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every vector landed exactly once on the CPU its collection targets."""
        return not self.problems and all(r.ok for r in self.routes)


class DemoFailure(Exception):
    """The model did not do what the driver needs (reported as a finding, exit code 1)."""


class MiniDriver:
    """A minimal GICv3 + ITS + PCI MSI-X driver over the bus API (the demo's, and benchmarks').

    Call :meth:`init_gic`, :meth:`init_lpis`, :meth:`init_its` in order; then
    :meth:`map_device` / :meth:`map_event` and :meth:`flush` to run the
    queued ITS commands.  Raises :class:`DemoFailure` when the model does not
    do what the driver needs.  Tables come from a bump allocator over the top
    half of RAM.
    """

    def __init__(self, m: Machine, log: list[str]) -> None:
        self.m = m
        self.c = m.config
        self.cpu0 = m.cpus[0]
        self.log = log
        ram_base, ram_size = self.c.ram
        # A bump allocator over the top half of RAM (the "kernel's" page allocator).
        self._next = ram_base + ram_size // 2
        self._end = ram_base + ram_size
        self.rd_base: dict[int, int] = {}
        self.its = self.c.its_base
        self.queue = 0
        self.cwriter = 0
        self.queue_size = _SZ_64K
        self._creadr = 0
        self.pta = False

    # -- helpers -------------------------------------------------------------------
    def alloc(self, size: int, align: int = _SZ_64K) -> int:
        addr = (self._next + align - 1) & ~(align - 1)
        if addr + size > self._end:
            raise DemoFailure(f"out of RAM allocating {size:#x} bytes")
        self._next = addr + size
        return addr

    def say(self, line: str) -> None:
        self.log.append(line)

    # -- 1, 2: distributor, redistributors, CPU interfaces -------------------------
    def init_gic(self) -> None:
        self.cpu0.write(self.c.gicd[0] + GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_GRP1)
        self.say(f"GICD_CTLR <- ARE|EnableGrp1 (reads {self.cpu0.read(self.c.gicd[0]):#x})")
        frames: dict[int, int] = {}
        for base, size in self.c.gicr_regions:
            for rd in range(base, base + size, 2 * _SZ_64K):
                typer = self.cpu0.read(rd + GICR_TYPER, 8)
                frames[typer >> 32] = rd
                if typer & (1 << 4):  # Last
                    break
        for cpu in self.m.cpus:
            a3, a2, a1, a0 = cpu.affinity
            aff = (a3 << 24) | (a2 << 16) | (a1 << 8) | a0
            if aff not in frames:
                raise DemoFailure(f"no redistributor has the affinity of cpu{cpu.index} "
                                  f"({aff:#x})")
            rd = self.rd_base[cpu.index] = frames[aff]
            cpu.write(rd + GICR_WAKER, cpu.read(rd + GICR_WAKER) & ~GICR_WAKER_PS)
            for _ in range(100):
                if not cpu.read(rd + GICR_WAKER) & GICR_WAKER_CA:
                    break
            else:
                raise DemoFailure(f"cpu{cpu.index}: GICR_WAKER.ChildrenAsleep stays 1")
            cpu.write_sysreg("ICC_SRE_EL1", cpu.read_sysreg("ICC_SRE_EL1") | 1)
            cpu.write_sysreg("ICC_PMR_EL1", 0xF0)
            cpu.write_sysreg("ICC_BPR1_EL1", 0)
            cpu.write_sysreg("ICC_CTLR_EL1", 0)  # EOImode 0: EOIR drops and deactivates
            cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)
        self.say(f"{len(self.m.cpus)} redistributors woken (GICR_WAKER), CPU interfaces: "
                 "PMR=0xf0, BPR1=0, EOImode=0, IGRPEN1=1")

    # -- 3: LPI tables -------------------------------------------------------------
    def init_lpis(self) -> None:
        idbits = self.c.idbits
        nlpis = (1 << idbits) - LPI_BASE
        self.prop = self.alloc(nlpis, _SZ_64K)
        for cpu in self.m.cpus:
            rd = self.rd_base[cpu.index]
            pend = self.alloc(max((1 << idbits) // 8, _SZ_64K), _SZ_64K)
            cpu.write(rd + GICR_PROPBASER, self.prop | (idbits - 1), 8)
            cpu.write(rd + GICR_PENDBASER, pend | GICR_PENDBASER_PTZ, 8)
            cpu.write(rd + GICR_CTLR, cpu.read(rd + GICR_CTLR) | 1)  # EnableLPIs
        self.say(f"LPI property table at {self.prop:#x} ({nlpis} bytes, IDbits={idbits}), "
                 f"one pending table per CPU, GICR_CTLR.EnableLPIs=1")

    def set_lpi_config(self, intid: int, prop: int) -> None:
        self.cpu0.write(self.prop + intid - LPI_BASE, prop, 1)

    # -- 4: the ITS ----------------------------------------------------------------
    def its_read(self, off: int, size: int = 8) -> int:
        return self.cpu0.read(self.its + off, size)

    def its_write(self, off: int, value: int, size: int = 8) -> None:
        self.cpu0.write(self.its + off, value, size)

    def init_its(self) -> None:
        typer = self.its_read(GITS_TYPER)
        self.itt_entry = ((typer >> 4) & 0xF) + 1
        self.devbits = ((typer >> 13) & 0x1F) + 1
        self.eventbits = ((typer >> 8) & 0x1F) + 1
        self.pta = bool(typer >> 19 & 1)
        self.say(f"GITS_TYPER={typer:#x}: {self.devbits}-bit DeviceID, {self.eventbits}-bit "
                 f"EventID, ITT entry {self.itt_entry} bytes, PTA={int(self.pta)}")
        self.l1: tuple[int, int, int] | None = None  # (L1 table, entry size, L2 page size)
        for n in range(8):
            off = GITS_BASER0 + 8 * n
            baser = self.its_read(off)
            kind = (baser >> 56) & 7
            esz = ((baser >> 48) & 0x1F) + 1
            if kind == BASER_TYPE_DEVICE:
                self._program_device_table(off, baser, esz)
            elif kind == BASER_TYPE_COLLECTION:
                table = self.alloc(0x1000, 0x1000)  # 512 collections, enough for 512 CPUs
                self.its_write(off, (baser & ~((1 << 48) - 1) & ~BASER_INDIRECT)
                               | BASER_VALID | table)
                self.say(f"GITS_BASER{n}: collection table at {table:#x} (4 KiB, flat)")
        self.queue = self.alloc(self.queue_size, _SZ_64K)
        self.its_write(GITS_CBASER, BASER_VALID | self.queue | (self.queue_size // 0x1000 - 1))
        self.its_write(GITS_CWRITER, 0)
        self.its_write(GITS_CTLR, self.its_read(GITS_CTLR, 4) | 1, 4)
        self.say(f"GITS_CBASER: 64 KiB command queue at {self.queue:#x}; GITS_CTLR.Enabled=1")
        for cpu in self.m.cpus:
            self.command(CMD_MAPC, dw2=(1 << 63) | (self.target(cpu.index) << 16) | cpu.index)
        self.command(CMD_SYNC, dw2=self.target(0) << 16)
        self.flush()
        self.say(f"MAPC ICID n -> cpu n for {len(self.m.cpus)} CPUs, SYNC")

    def _program_device_table(self, off: int, baser: int, esz: int) -> None:
        keep = baser & (0x7 << 56 | 0x1F << 48)  # Type, Entry_Size (read-only)
        size = (1 << self.devbits) * esz
        if size <= 256 * 0x1000:  # flat, 4 KiB pages
            pages = max(1, -(-size // 0x1000))
            table = self.alloc(pages * 0x1000, _SZ_64K)
            self.its_write(off, keep | BASER_VALID | table | (pages - 1))
            self.say(f"GITS_BASER{(off - GITS_BASER0) // 8}: device table at {table:#x} "
                     f"({pages} x 4 KiB pages, flat)")
            return
        # Two-level: 64 KiB level-2 pages, 8-byte level-1 entries.
        l2_ids = _SZ_64K // esz
        l1_entries = -(-(1 << self.devbits) // l2_ids)
        l1_pages = min(256, -(-(l1_entries * 8) // _SZ_64K))
        table = self.alloc(l1_pages * _SZ_64K, _SZ_64K)
        self.its_write(off, keep | BASER_VALID | BASER_INDIRECT | (2 << 8) | table
                       | (l1_pages - 1))
        if not self.its_read(off) & BASER_INDIRECT:
            raise DemoFailure("the ITS does not support two-level device tables")
        self.l1 = (table, esz, _SZ_64K)
        self.say(f"GITS_BASER{(off - GITS_BASER0) // 8}: two-level device table, level 1 at "
                 f"{table:#x} ({l1_pages} x 64 KiB)")

    def ensure_device_entry(self, devid: int) -> None:
        """Two-level tables: give ``devid``'s level-1 entry a level-2 page (as Linux does)."""
        if self.l1 is None:
            return
        table, esz, page = self.l1
        entry = table + 8 * (devid // (page // esz))
        if not self.cpu0.read(entry, 8) >> 63:
            l2 = self.alloc(page, page)
            self.cpu0.write(entry, (1 << 63) | l2, 8)

    def target(self, cpu: int) -> int:
        """The RDbase of a command: the processor number, or RD_base >> 16 with PTA."""
        return self.rd_base[cpu] >> 16 if self.pta else cpu

    def command(self, cmd: int, *, dw0: int = 0, dw1: int = 0, dw2: int = 0,
                dw3: int = 0) -> None:
        """Queue one 32-byte command (flushing first when the queue is full)."""
        if (self.cwriter + 32) % self.queue_size == self._creadr:
            self.flush()
        at = self.queue + self.cwriter
        for i, dw in enumerate((cmd | dw0, dw1, dw2, dw3)):
            self.cpu0.write(at + 8 * i, dw, 8)
        self.cwriter = (self.cwriter + 32) % self.queue_size

    def flush(self) -> None:
        """Write GITS_CWRITER and check that the ITS consumed every queued command."""
        self.its_write(GITS_CWRITER, self.cwriter)
        creadr = self.its_read(GITS_CREADR)
        if creadr & 1:
            raise DemoFailure(f"the ITS stalled at command offset {creadr & ~31:#x}")
        self._creadr = creadr & ~31
        if creadr != self.cwriter:
            raise DemoFailure(f"GITS_CREADR={creadr:#x} did not reach GITS_CWRITER="
                              f"{self.cwriter:#x}")

    # -- 5: the PCI function -------------------------------------------------------
    def map_device(self, devid: int, event_bits: int) -> int:
        """Queue MAPD for ``devid`` with an ITT for ``event_bits`` EventID bits; returns the ITT."""
        self.ensure_device_entry(devid)
        itt = self.alloc(max(256, (1 << event_bits) * self.itt_entry), 256)
        self.command(CMD_MAPD, dw0=devid << 32, dw1=event_bits - 1, dw2=(1 << 63) | itt)
        return itt

    def map_event(self, devid: int, eventid: int, intid: int, icid: int,
                  prop: int = LPI_PROP) -> None:
        """Write the LPI's property byte, queue MAPTI and INV (as Linux does on unmask)."""
        self.set_lpi_config(intid, prop)
        self.command(CMD_MAPTI, dw0=devid << 32, dw1=eventid | intid << 32, dw2=icid)
        self.command(CMD_INV, dw0=devid << 32, dw1=eventid)

    def sync(self) -> None:
        """Queue SYNC (to CPU 0's redistributor) and process the queue."""
        self.command(CMD_SYNC, dw2=self.target(0) << 16)
        self.flush()

    def cfg(self, bdf: int, reg: int) -> int:
        return self.c.pcie_ecam[0] + (bdf << 12) + reg

    def init_msix(self, bdf: int, vectors: int) -> tuple[int, int]:
        """Program the function's MSI-X table; returns (BAR address, table address)."""
        cpu = self.cpu0
        ids = cpu.read(self.cfg(bdf, 0))
        if ids & 0xFFFF == 0xFFFF:
            raise DemoFailure(f"no PCI function at {_bdf(bdf)}")
        cap = 0
        if cpu.read(self.cfg(bdf, PCI_STATUS), 2) & (1 << 4):
            ptr = cpu.read(self.cfg(bdf, PCI_CAPABILITY_LIST), 1) & ~3
            for _ in range(48):
                if not ptr:
                    break
                if cpu.read(self.cfg(bdf, ptr), 1) == PCI_CAP_ID_MSIX:
                    cap = ptr
                    break
                ptr = cpu.read(self.cfg(bdf, ptr + 1), 1) & ~3
        if not cap:
            raise DemoFailure(f"{_bdf(bdf)} has no MSI-X capability")
        mc = cpu.read(self.cfg(bdf, cap + 2), 2)
        size = (mc & 0x7FF) + 1
        if size < vectors:
            raise DemoFailure(f"{_bdf(bdf)} has {size} MSI-X vectors, fewer than {vectors}")
        table_reg = cpu.read(self.cfg(bdf, cap + 4))
        bir, table_off = table_reg & 7, table_reg & ~7
        bar_reg = self.cfg(bdf, PCI_BASE_ADDRESS_0 + 4 * bir)
        lo = cpu.read(bar_reg)
        bar = lo & ~0xF
        if (lo >> 1) & 3 == 2:  # 64-bit BAR
            bar |= cpu.read(bar_reg + 4) << 32
        if bar == 0:  # not assigned by firmware: assign at the bottom of the MMIO window
            bar = self.c.pcie_mmio[0]
            cpu.write(bar_reg, (lo & 0xF) | (bar & 0xFFFF_FFFF))
            if (lo >> 1) & 3 == 2:
                cpu.write(bar_reg + 4, bar >> 32)
        cmd = cpu.read(self.cfg(bdf, PCI_COMMAND), 2)
        cpu.write(self.cfg(bdf, PCI_COMMAND), cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2)
        # Mask everything while the table is written, as the MSI-X core does.
        cpu.write(self.cfg(bdf, cap + 2), mc | PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE, 2)
        table = bar + table_off
        doorbell = self.its + GITS_TRANSLATER
        for v in range(vectors):
            e = table + 16 * v
            cpu.write(e + 0, doorbell & 0xFFFF_FFFF)
            cpu.write(e + 4, doorbell >> 32)
            cpu.write(e + 8, v)  # data = EventID
            cpu.write(e + 12, 0)  # vector control: unmasked
        cpu.write(self.cfg(bdf, cap + 2), (mc | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL, 2)
        self.say(f"PCI {_bdf(bdf)} {ids & 0xFFFF:04x}:{ids >> 16:04x}: MSI-X capability at "
                 f"{cap:#x}, {size} vectors, table in BAR{bir} at {table:#x}; {vectors} "
                 f"entries -> GITS_TRANSLATER {doorbell:#x}, data = EventID; MSI-X enabled")
        return bar, table


def _bdf(bdf: int) -> str:
    return f"{bdf >> 8:02x}:{(bdf >> 3) & 31:02x}.{bdf & 7}"


def run_demo(dtb: str | os.PathLike[str] | None = None, *, vectors: int = 8,
             config: MachineConfig | None = None, record: bool = True) -> DemoResult:
    """Boot the machine of ``dtb`` (default: the shipped GICv3+ITS tree) and route ``vectors``.

    ``config`` may be given instead of ``dtb`` (its ``pci_functions`` are
    replaced by the demo device).  With ``record`` every event is kept in
    :attr:`DemoResult.events`.  Raises :class:`~irqlab.errors.InvalidArgumentValue`
    for a machine without a GICv3 ITS.
    """
    check_int("vectors", vectors, 1, 2048)
    if config is not None and dtb is not None:
        raise InvalidArgumentValue("give dtb or config, not both")
    if config is None:
        from irqlab.hw.dtb import config_from_dtb, shipped_dtb

        path = Path(dtb) if dtb is not None else shipped_dtb()
        config = config_from_dtb(path)
        source = path.name
    else:
        source = "MachineConfig"
    if config.gic_version != 3 or not config.its:
        raise InvalidArgumentValue(
            f"the demo needs a GICv3 with an ITS, not {source} (GICv{config.gic_version}"
            f"{', no ITS' if config.gic_version == 3 else ''})")
    if vectors > (1 << config.its_event_bits) or LPI_BASE + vectors > (1 << config.idbits):
        raise InvalidArgumentValue(
            f"vectors must fit the EventID and LPI INTID space, not {vectors!r}")
    device = PciFunctionConfig(bdf=DEMO_BDF, msi_vectors=0, msix_vectors=max(vectors, 8))
    config = dataclasses.replace(config, pci_functions=(device,))
    m = Machine(config)
    rec = m.events.record() if record else None
    log: list[str] = [f"machine: {source}: {config.cpus} CPUs, GICv3, ITS at "
                      f"{config.its_base:#x}, IDbits={config.idbits}"]
    rid_base, devid_base, length = config.msi_map
    if not rid_base <= DEMO_BDF < rid_base + length:
        raise InvalidArgumentValue(f"the msi-map of {source} does not cover the demo device's "
                                   f"requester ID {DEMO_BDF:#x}")
    devid = DEMO_BDF - rid_base + devid_base
    routes: list[VectorRoute] = []
    problems: list[str] = []
    result = DemoResult(m, source, DEMO_BDF, devid, routes, log, [], problems)
    drv = MiniDriver(m, log)
    try:
        drv.init_gic()
        drv.init_lpis()
        drv.init_its()
        drv.init_msix(DEMO_BDF, vectors)
        ncpus = len(m.cpus)
        ev_bits = max(1, (vectors - 1).bit_length())
        itt = drv.map_device(devid, ev_bits)
        for v in range(vectors):
            drv.map_event(devid, v, LPI_BASE + v, v % ncpus)
        drv.sync()
        log.append(f"MAPD DeviceID {devid:#x} (ITT at {itt:#x}, {ev_bits} EventID bits); "
                   f"MAPTI + INV for {vectors} vectors: EventID v -> LPI {LPI_BASE}+v, "
                   f"ICID v mod {ncpus}; SYNC")
        fn = m.pci.functions[DEMO_BDF]
        for v in range(vectors):
            fn.fire(v)
        log.append(f"device fired vectors 0..{vectors - 1}")
        landed: dict[int, list[int]] = {}
        for cpu in m.cpus:
            for _ in range(vectors + 1):
                intid = cpu.read_sysreg("ICC_IAR1_EL1")
                if intid == _SPURIOUS:
                    break
                landed.setdefault(intid, []).append(cpu.index)
                cpu.write_sysreg("ICC_EOIR1_EL1", intid)
        log.append("each CPU: ICC_IAR1_EL1 until 1023, ICC_EOIR1_EL1 each")
        for v in range(vectors):
            cpus = landed.pop(LPI_BASE + v, [])
            if len(cpus) > 1:
                problems.append(f"vector {v} acknowledged {len(cpus)} times (cpus {cpus})")
            routes.append(VectorRoute(v, devid, v, LPI_BASE + v, v % ncpus,
                                      cpus[0] if cpus else None))
        for intid, cpus in sorted(landed.items()):
            problems.append(f"unexpected INTID {intid} acknowledged on cpus {cpus}")
        for r in routes:
            if r.cpu is None:
                problems.append(f"vector {r.vector} (LPI {r.intid}) never arrived")
            elif not r.ok:
                problems.append(f"vector {r.vector} landed on cpu{r.cpu}, its collection "
                                f"targets cpu{r.expected_cpu}")
        for cpu in m.cpus:
            if cpu.irq_line:
                problems.append(f"cpu{cpu.index}: IRQ line still asserted after the EOIs")
    except DemoFailure as e:
        problems.append(str(e))
    finally:
        if rec is not None:
            rec.stop()
            result.events = list(rec)
    return result
