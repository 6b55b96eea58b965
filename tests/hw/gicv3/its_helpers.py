"""Test helpers for the ITS: a fake machine with recording redistributors, and a driver
that programs the ITS by register writes as software would."""

from __future__ import annotations

from types import SimpleNamespace

from irqlab.arch.its import GITS_BASER, GITS_CBASER, encode_baser_address, encode_command
from irqlab.events import EventStream
from irqlab.hw.config import MachineConfig
from irqlab.hw.memory import Bus, SparseMemory

RAM = 0x4000_0000
CMDQ = RAM                   # 1 page: 128 commands
DT = RAM + 0x10_0000         # device table
CT = RAM + 0x20_0000         # collection table
ITT = RAM + 0x30_0000        # ITTs: one 64 KiB slot per device, ITT + (devid << 16)
L2 = RAM + 0x100_0000        # level-2 pages
OUTSIDE = 0x2_0000_0000      # a physical address nothing decodes


class FakeRedist:
    """A redistributor that records what the ITS asked of it."""

    def __init__(self, n: int, rd_base: int) -> None:
        self.processor_number = n
        self.rd_base = rd_base
        self.lpis_enabled = True
        self.pending: set[int] = set()
        self.log: list[tuple] = []

    def lpi_set_pending(self, intid: int) -> None:
        self.pending.add(intid)

    def lpi_clear_pending(self, intid: int) -> None:
        self.pending.discard(intid)

    def lpi_is_pending(self, intid: int) -> bool:
        return intid in self.pending

    def lpi_move_pending(self, intid: int, to: FakeRedist) -> None:
        self.log.append(("move", intid, to.processor_number))
        if intid in self.pending:
            self.pending.discard(intid)
            to.pending.add(intid)

    def lpi_move_all(self, to: FakeRedist) -> None:
        self.log.append(("move_all", to.processor_number))
        to.pending |= self.pending
        self.pending.clear()

    def lpi_invalidate(self, intid: int, *, others_only: bool = False) -> None:
        self.log.append(("inv", intid))

    def lpi_invalidate_all(self) -> None:
        self.log.append(("invall",))


def fake_machine(**options):
    """A machine with RAM, the bus, fake redistributors, the real ITS and PCI host."""
    from irqlab.hw.gicv3.its import ITS
    from irqlab.hw.pci import PciHost

    cfg = MachineConfig.virt(**options)
    m = SimpleNamespace(config=cfg, events=EventStream(), memory=SparseMemory())
    m.bus = Bus(m.memory)
    m.bus.map_ram(*cfg.ram)
    m.gic = SimpleNamespace(redists=[FakeRedist(i, cfg.redistributor_base(i))
                                     for i in range(cfg.cpus)])
    m.its = ITS(m, cfg.its_base)
    m.pci = PciHost(m)

    def device_write(devid, addr, value, size=4):
        m.bus.write(addr, value, size, None, devid)

    m.device_write = device_write
    return m


class ItsDriver:
    """Programs an ITS through its registers, as a driver would."""

    def __init__(self, m, *, page_size: int = 0x1000, dt_indirect: bool = False,
                 dt_pages: int = 1, ct_pages: int = 1, cmdq_pages: int = 1,
                 enable: bool = True) -> None:
        self.m = m
        self.its = m.its
        self.rec = m.events.record()
        self.page_size = page_size
        self.dt_indirect = dt_indirect
        ps = {0x1000: 0, 0x4000: 1, 0x1_0000: 2}[page_size]
        self.write64("GITS_BASER0", GITS_BASER.encode(
            Valid=1, Indirect=int(dt_indirect), Page_Size=ps, Size=dt_pages - 1)
            | encode_baser_address(DT, page_size))
        self.write64("GITS_BASER1", GITS_BASER.encode(Valid=1, Page_Size=ps, Size=ct_pages - 1)
                     | encode_baser_address(CT, page_size))
        self.write64("GITS_CBASER", GITS_CBASER.encode(Valid=1, Size=cmdq_pages - 1,
                                                         Physical_Address=CMDQ >> 12))
        self.qsize = cmdq_pages * 0x1000
        if enable:
            self.enable()

    OFF = {"GITS_CTLR": 0x0, "GITS_IIDR": 0x4, "GITS_TYPER": 0x8, "GITS_CBASER": 0x80,
           "GITS_CWRITER": 0x88, "GITS_CREADR": 0x90, "GITS_BASER0": 0x100,
           "GITS_BASER1": 0x108, "GITS_BASER2": 0x110, "GITS_PIDR2": 0xFFE8}

    def write64(self, reg: str, value: int) -> None:
        self.m.bus.write(self.its.base + self.OFF[reg], value, 8, 0)

    def read64(self, reg: str) -> int:
        return self.m.bus.read(self.its.base + self.OFF[reg], 8, 0)

    def read32(self, reg: str) -> int:
        return self.m.bus.read(self.its.base + self.OFF[reg], 4, 0)

    def write32(self, reg: str, value: int) -> None:
        self.m.bus.write(self.its.base + self.OFF[reg], value, 4, 0)

    def enable(self, on: bool = True) -> None:
        self.write32("GITS_CTLR", int(on))

    @property
    def creadr(self) -> int:
        return self.read64("GITS_CREADR")

    @property
    def cwriter(self) -> int:
        return self.read64("GITS_CWRITER")

    def put(self, raw: bytes) -> None:
        """Place a command at CWRITER and advance CWRITER (runs the queue)."""
        off = self.cwriter
        self.m.memory.write(CMDQ + off, raw)
        self.write64("GITS_CWRITER", (off + 32) % self.qsize)

    def cmd(self, name: str, **fields: int) -> None:
        self.put(encode_command(name, **fields))

    def map_l2(self, devid: int) -> int:
        """For a two-level device table: make the level-1 entry of ``devid`` valid."""
        per = self.page_size // 8
        idx = devid // per
        page = L2 + idx * self.page_size
        self.m.memory.write_u64(DT + idx * 8, (1 << 63) | page)
        return page

    def setup_device(self, devid: int, events: int = 32, *, icid: int = 0, cpu: int = 0,
                     base_intid: int = 8192, size: int = 4) -> None:
        """MAPC icid->cpu, MAPD devid (Size bits), MAPTI events 0..events-1."""
        self.cmd("MAPC", ICID=icid, RDbase=self.rdbase(cpu), V=1)
        self.cmd("MAPD", DeviceID=devid, Size=size, ITT_addr=ITT + (devid << 16), V=1)
        for e in range(events):
            self.cmd("MAPTI", DeviceID=devid, EventID=e, pINTID=base_intid + e, ICID=icid)

    def rdbase(self, cpu: int) -> int:
        if self.m.config.its_pta:
            return self.m.gic.redists[cpu].rd_base >> 16
        return cpu

    def msi(self, devid: int, eventid: int, size: int = 4) -> None:
        self.m.device_write(devid, self.its.translater, eventid, size)

    def errors(self) -> list[tuple[str, str]]:
        return [(e["cmd"], e["rule"]) for e in self.rec.of("its_cmd_error")]

    def pending(self) -> dict[int, set[int]]:
        return {rd.processor_number: set(rd.pending) for rd in self.m.gic.redists
                if rd.pending}


PROP = RAM + 0x800_0000      # LPI property table (real machine)
PEND = RAM + 0x1000_0000     # pending tables, one 2 MiB slot per CPU


def real_machine(cpus: int = 4, *, lpis: int = 4096, prio: int = 0xA0, **options):
    """A real :class:`Machine` with the GIC brought up by register writes, as Linux does:
    ARE + Group 1, redistributors awake, CPU interfaces open (PMR 0xF0), LPI tables set
    with the first ``lpis`` LPIs enabled at priority ``prio``, EnableLPIs = 1."""
    from irqlab import Machine

    m = Machine.virt(cpus=cpus, **options)
    cfg = m.config
    c0 = m.cpus[0]
    c0.write(cfg.gicd[0], (1 << 4) | (1 << 1))  # GICD_CTLR: ARE, EnableGrp1
    m.ram_write(PROP, bytes([prio | 1]) * lpis)
    for cpu in m.cpus:
        rd = cfg.redistributor_base(cpu.index)
        cpu.write(rd + 0x14, cpu.read(rd + 0x14) & ~2)  # GICR_WAKER.ProcessorSleep = 0
        cpu.write_sysreg("ICC_SRE_EL1", 1)
        cpu.write_sysreg("ICC_PMR_EL1", 0xF0)
        cpu.write_sysreg("ICC_IGRPEN1_EL1", 1)
        cpu.write(rd + 0x70, PROP | (cfg.idbits - 1), 8)  # GICR_PROPBASER
        cpu.write(rd + 0x78, (PEND + cpu.index * 0x20_0000) | (1 << 62), 8)  # PENDBASER, PTZ
        cpu.write(rd + 0x0, 1)  # GICR_CTLR.EnableLPIs
    return m


def ack_all(m) -> dict[int, list[int]]:
    """Acknowledge and EOI everything each CPU signals: {cpu: [INTIDs in order]}."""
    out: dict[int, list[int]] = {}
    for cpu in m.cpus:
        while True:
            intid = cpu.read_sysreg("ICC_IAR1_EL1")
            if intid >= 1020 and intid < 8192:
                break
            out.setdefault(cpu.index, []).append(intid)
            cpu.write_sysreg("ICC_EOIR1_EL1", intid)
    return out
