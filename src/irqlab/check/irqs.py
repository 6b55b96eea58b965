"""The interrupt observer: lost, duplicated, spurious, stuck-active, wrong-CPU interrupts.

It reads three layers of the one event stream (docs/checker.md, "Interrupts", has the rules):

* the GIC.  Pending: a latch (an edge, a software pend ``gic_pending_latch value=1``, an
  SGI, an LPI, GICv2m's ``v2m_setspi``, SETSPI of an edge SPI) and the line of a
  level-sensitive interrupt (``gicd_spi_pending`` / ``gicr_ppi_pending`` with
  ``trigger=level``, GICv2's ``gicd_line``); the acknowledge, ``gic_pending_latch
  value=0`` (ICPENDR), ``gicd_clrspi``, ``gicr_lpi_clear`` clear the latch, the line
  events (``gicd_spi_line_low``, ``gicr_ppi_line_low``, ``gicd_line level=0``) the line.
  Enables: GICD_I[SC]ENABLER<n> (``gicd_write``), GICR_I[SC]ENABLER0 (``gicr_write``),
  an LPI's enable bit (``gicr_lpi_pending enabled=``, ``gicr_enable_lpis value=0``; and
  ``gicr_lpi_config``, which the redistributor does not emit yet).  Active: the
  acknowledge of an SGI/PPI/SPI and ``gic_active``, until ``cpuif_deactivate``,
  ``gic[d]_deactivate_physical``, GICv2's ``gicc_dir`` or ``gicc_eoi`` (with EOImode 0
  only);
* the engine: ``sim_irq_raise`` makes an engine interrupt pending on a CPU,
  ``sim_irq_enter`` (``intid >= 0``, not an IPI) takes it;
* the kernel layer: ``irq_affinity`` (``irq``, ``intid`` (-1 if unknown), ``cpus`` -- the
  allowed CPUs, comma-separated, e.g. ``"0,2"``), ``irq_set_affinity`` (``irq``, ``cpus``,
  ``ret``: taken when ``ret`` is 0), ``irq_handler`` (``cpu``, ``irq``, ``name``: an
  action ran), ``irq_resend``, and what Linux reports as unexpected: ``irq_no_mapping``,
  ``gic_unexpected_irq``, ``irq_bad``, ``irq_percpu_spurious``.

Findings: ``lost-interrupt`` (pending and enabled at the end, never taken),
``duplicate-interrupt`` (a handler of an irq bound to an INTID ran with no delivery of
that INTID left), ``spurious-interrupt`` (an interrupt Linux took and nobody handles),
``stuck-active`` (active at the end), ``affinity-violation`` (taken on a CPU outside
the affinity set, for an interrupt made pending after the affinity was set).
End-of-run checks run only for an ``ok`` outcome.
"""

from __future__ import annotations

from typing import Any, ClassVar

from irqlab.check.findings import Finding
from irqlab.events import Event

__all__ = ["IrqObserver"]

LPI_BASE = 8192
#: sources of the pending state: the latch (an edge, ISPENDR, SETSPI of an edge SPI, an SGI,
#: an LPI) and the line of a level-sensitive interrupt (or SETSPI of a level SPI)
_LATCH = 1
_LINE = 2


def _key(cpu: int | None, intid: int) -> tuple[int, int]:
    # SGIs/PPIs and LPIs are per CPU (an LPI is pending in one redistributor);
    # SPIs are global (-1)
    if intid < 32 or intid >= LPI_BASE:
        return (intid, -1 if cpu is None else cpu)
    return (intid, -1)


def _name(k: tuple[int, int]) -> str:
    intid, cpu = k
    kind = "SGI" if intid < 16 else "PPI" if intid < 32 else "LPI" if intid >= LPI_BASE else "SPI"
    return f"{kind} {intid}" + (f" on CPU{cpu}" if cpu >= 0 else "")


class IrqObserver:
    """Observer of interrupt delivery (see the module docstring)."""

    #: event kind -> handler method name (:mod:`irqlab.check.observe` binds them)
    HANDLERS: ClassVar[dict[str, str]] = {
        "gicd_spi_pending": "_hw_pending",
        "gicr_ppi_pending": "_hw_pending",
        "gicr_sgi_pending": "_hw_pending",
        "gicr_lpi_pending": "_lpi_pending",
        "gic_pending_latch": "_pending_latch",
        "v2m_setspi": "_v2m_setspi",
        "gicd_line": "_v2_line",
        "gicd_spi_line_low": "_line_low",
        "gicr_ppi_line_low": "_line_low",
        "gicd_clrspi": "_clrspi",
        "gicr_lpi_clear": "_lpi_clear",
        "gicd_write": "_gicd_write",
        "gicr_write": "_gicr_write",
        "gicr_lpi_config": "_lpi_config",
        "gicr_enable_lpis": "_enable_lpis",
        "cpuif_ack": "_ack",
        "gicc_ack": "_ack",
        "gic_active": "_gic_active",
        "cpuif_deactivate": "_deactivate",
        "gicc_dir": "_v2_dir",
        "gicc_eoi": "_v2_eoi",
        "gicd_deactivate_physical": "_deactivate",
        "gic_deactivate_physical": "_deactivate",
        "sim_irq_raise": "_soft_raise",
        "sim_irq_enter": "_enter",
        "irq_affinity": "_affinity",
        "irq_set_affinity": "_set_affinity",
        "irq_handler": "_handler",
        "irq_resend": "_resend",
        "irq_no_mapping": "_unexpected",
        "gic_unexpected_irq": "_unexpected",
        "irq_bad": "_bad",
        "irq_percpu_spurious": "_percpu_spurious",
    }

    @property
    def handlers(self) -> dict[str, Any]:
        """Event kind -> bound handler (the observer protocol)."""
        return {k: getattr(self, m) for k, m in self.HANDLERS.items()}

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.found: list[Finding] = []
        #: hardware pending interrupts not yet acknowledged: key -> step it became pending
        self.pending: dict[tuple[int, int], int] = {}
        #: what holds each interrupt pending in the GIC: _LATCH | _LINE (level, line high)
        self._src: dict[tuple[int, int], int] = {}
        #: enable bits the events showed clear (unknown counts as enabled): SGIs, PPIs and
        #: SPIs as one 32-bit word per (register, CPU or -1), LPIs by key
        self._dis_bits: dict[tuple[int, int], int] = {}
        self._dis_lpi: set[tuple[int, int]] = set()
        #: active interrupts: key -> step of activation
        self.active: dict[tuple[int, int], int] = {}
        #: GICv2: each CPU's GICC_CTLR.EOImode as the events showed it (a GICC_DIR that
        #: deactivated: 1; an EOI that found the INTID not active: 0; an ``eoimode`` field)
        self._v2_mode: dict[int, int] = {}
        #: GICv2: active interrupts EOI'd with EOImode 1 or unknown: key -> (cpu, step)
        self._v2_eoied: dict[tuple[int, int], tuple[int, int]] = {}
        #: engine interrupts: (cpu, intid) -> [raised, taken, step first raised]
        self.soft: dict[tuple[int | None, int], list[int]] = {}
        #: the step of each CPU's latest interrupt entry
        self._entered: dict[int, int] = {}
        #: affinity: intid -> (allowed, step); irq -> (allowed, step)
        self._aff_intid: dict[int, tuple[frozenset[int], int]] = {}
        self._aff_irq: dict[int, tuple[frozenset[int], int]] = {}
        self._last_pending: dict[int, int] = {}
        self._irq_intid: dict[int, int] = {}
        #: deliveries (acknowledges, engine interrupt entries): (intid, cpu) -> n, cpu -1 for
        #: an SPI or LPI (counted on every CPU: a handler run anywhere takes one)
        self._deliv: dict[tuple[int, int], int] = {}
        #: handler runs: (irq, action name, intid, cpu or -1) -> n; software resends by irq
        self._runs: dict[tuple[int, str, int, int], int] = {}
        self._credit: dict[int, int] = {}
        self._reported: set[Any] = set()
        #: (cpu, hwirq, step) of the latest irq_no_mapping (one report per dispatch)
        self._unexpected_at: tuple[Any, ...] = ()

    # -- hardware: the pending state ------------------------------------------------------
    def _set(self, ev: Event, cpu: int | None, intid: int, src: int) -> None:
        """``intid`` became pending through ``src`` (_LATCH or _LINE)."""
        k = _key(cpu, intid)
        self.pending.setdefault(k, ev.time)
        self._src[k] = self._src.get(k, 0) | src
        self._last_pending[intid] = ev.time
        en = ev.args.get("enabled")
        if en is not None:
            # the event says whether the interrupt is enabled (always, for an LPI): this
            # covers enables written before the observer was attached
            self._enable(k, bool(en))

    def _clear(self, cpu: int | None, intid: int, src: int) -> None:
        """``src`` no longer holds ``intid`` pending; without another source it is not."""
        k = _key(cpu, intid)
        left = self._src.get(k, 0) & ~src
        if left:
            self._src[k] = left
        else:
            self._src.pop(k, None)
            self.pending.pop(k, None)

    def _hw_pending(self, ev: Event) -> None:
        # trigger=level: the line went high (pending follows it); otherwise an edge,
        # a SETSPI of an edge SPI or an SGI: the pending latch
        a = ev.args
        self._set(ev, ev.cpu, a["intid"], _LINE if a.get("trigger") == "level" else _LATCH)

    def _lpi_pending(self, ev: Event) -> None:
        # enabled=: the configuration byte's enable bit, as the redistributor holds it
        self._set(ev, ev.cpu, ev.args["intid"], _LATCH)

    def _pending_latch(self, ev: Event) -> None:
        # GICD_ISPENDR / ICPENDR, GICR_ISPENDR0 / ICPENDR0: the software pending latch
        a = ev.args
        if a.get("value"):
            self._set(ev, ev.cpu, a["intid"], _LATCH)
        else:
            self._clear(ev.cpu, a["intid"], _LATCH)

    def _v2m_setspi(self, ev: Event) -> None:
        if ev.args.get("result") == "pending":
            self._set(ev, None, ev.args["intid"], _LATCH)

    def _v2_line(self, ev: Event) -> None:
        # GICv2 gives no trigger: the line is taken as level-sensitive unless the event
        # says trigger=edge (then the rising edge latches and the falling one does nothing)
        a = ev.args
        edge = a.get("trigger") == "edge"
        if a.get("level"):
            self._set(ev, ev.cpu, a["intid"], _LATCH if edge else _LINE)
        elif not edge:
            self._clear(ev.cpu, a["intid"], _LINE)

    def _line_low(self, ev: Event) -> None:
        self._clear(ev.cpu, ev.args["intid"], _LINE)

    def _clrspi(self, ev: Event) -> None:
        # GICD_CLRSPI_NSR of a level SPI: the message line and the latch both clear
        self._clear(None, ev.args["intid"], _LINE | _LATCH)

    def _lpi_clear(self, ev: Event) -> None:
        self._clear(ev.cpu, ev.args["intid"], _LATCH)

    # -- hardware: enables --------------------------------------------------------------
    def _enable(self, k: tuple[int, int], on: bool) -> None:
        if k[0] >= LPI_BASE:
            if on:
                self._dis_lpi.discard(k)
            else:
                self._dis_lpi.add(k)
        else:
            self._enable_bits(1 << (k[0] & 31), k[0] & ~31, k[1], on)

    def _enable_bits(self, value: int, base: int, cpu: int, on: bool) -> None:
        w = (base >> 5, cpu)
        old = self._dis_bits.get(w, 0)
        self._dis_bits[w] = (old & ~value) if on else (old | value)

    def _is_disabled(self, k: tuple[int, int]) -> bool:
        intid = k[0]
        if intid >= LPI_BASE:
            return k in self._dis_lpi
        return bool(self._dis_bits.get((intid >> 5, k[1]), 0) >> (intid & 31) & 1)

    def _gicd_write(self, ev: Event) -> None:
        # GICD_ISENABLER<n> / GICD_ICENABLER<n>: SPIs (GICv3's SGIs/PPIs are the
        # redistributors'; GICv2's register 0 is banked: the writing CPU's SGIs and PPIs)
        reg = ev.args.get("reg")
        if reg == "GICD_ISENABLER" or reg == "GICD_ICENABLER":
            n = ev.args.get("n", 0)
            if n > 0:
                self._enable_bits(ev.args["value"] & 0xFFFF_FFFF, 32 * n, -1,
                                  reg == "GICD_ISENABLER")
            elif ev.args.get("banked") and ev.cpu is not None:
                # (SGI enables are RAO/WI on irqlab's GICv2: only PPIs' bits act)
                self._enable_bits(ev.args["value"] & 0xFFFF_0000, 0, ev.cpu,
                                  reg == "GICD_ISENABLER")

    def _gicr_write(self, ev: Event) -> None:
        # GICR_ISENABLER0 / GICR_ICENABLER0 of redistributor ``redist``: its SGIs and PPIs
        reg = ev.args.get("reg")
        if reg == "GICR_ISENABLER0" or reg == "GICR_ICENABLER0":
            self._enable_bits(ev.args["value"] & 0xFFFF_FFFF, 0, ev.args["redist"],
                              reg == "GICR_ISENABLER0")

    def _lpi_config(self, ev: Event) -> None:
        # the redistributor re-read a pending LPI's configuration byte (INV, INVALL); no
        # redistributor emits gicr_lpi_config yet (docs/checker.md, "Limits")
        self._enable(_key(ev.cpu, ev.args["intid"]), bool(ev.args.get("enabled", True)))

    def _enable_lpis(self, ev: Event) -> None:
        # GICR_CTLR.EnableLPIs 1 -> 0: the pending LPIs go to the pending table, undelivered
        if not ev.args.get("value"):
            for k in self.pending:
                if k[0] >= LPI_BASE and k[1] == ev.cpu:
                    self._dis_lpi.add(k)

    def _ack(self, ev: Event) -> None:
        cpu = ev.cpu
        intid = ev.args["intid"]
        if intid >= 1020 and intid < LPI_BASE:
            # 1020-1023: nothing to take.  Architecturally normal even on the first read
            # after an interrupt entry (another CPU took a 1-of-N SPI, the line fell, a
            # higher priority masked it between the signal and the read): Linux's GIC
            # drivers just return.  Not a finding.
            return
        # taken: the acknowledge clears the latch (an LPI's pending state); a level
        # line that stays high is not a new interrupt (it stays a source, not pending)
        self._clear(cpu, intid, _LATCH)
        k = _key(cpu, intid)
        self.pending.pop(k, None)
        if intid < LPI_BASE:
            self.active[k] = ev.time
            self._v2_eoied.pop(k, None)
        self._delivered(cpu, intid)
        self._check_affinity(ev, cpu, intid, None)

    def _gic_active(self, ev: Event) -> None:
        k = _key(ev.cpu, ev.args["intid"])
        if ev.args.get("value"):
            self.active.setdefault(k, ev.time)
        else:
            self.active.pop(k, None)
            self._v2_eoied.pop(k, None)

    def _deactivate(self, ev: Event) -> None:
        k = _key(ev.cpu, ev.args["intid"])
        self.active.pop(k, None)
        self._v2_eoied.pop(k, None)

    def _v2_eoi(self, ev: Event) -> None:
        # GICC_EOIR / AEOIR: the priority drop; also the deactivation when GICC_CTLR.EOImode
        # is 0 and the write was valid (IHI 0048B 4.4.5).  An out-of-range INTID, a Group 0
        # INTID through AEOIR, or no active priority: nothing happens.
        a = ev.args
        cpu = ev.cpu
        if cpu is None:
            return
        mode = a.get("eoimode")
        if mode is not None:
            self._v2_mode[cpu] = int(mode)
        result = a.get("result", "ok")
        if result == "not_active":
            self._v2_mode[cpu] = 0    # the model checks the active state with EOImode 0 only
            return
        if result != "ok" and result != "group_not_active":
            return
        k = _key(cpu, a["intid"])
        mode = self._v2_mode.get(cpu)
        if mode == 0:
            self._deactivate(ev)
        elif k in self.active:
            # EOImode 1 (GICC_DIR deactivates), or not known yet: decided at the end
            self._v2_eoied[k] = (cpu, ev.time)

    def _v2_dir(self, ev: Event) -> None:
        # GICC_DIR deactivates only with EOImode 1 (result=deactivated): that CPU's mode is 1
        if ev.args.get("result") == "deactivated":
            if ev.cpu is not None:
                self._v2_mode[ev.cpu] = 1
            self._deactivate(ev)

    # -- engine -----------------------------------------------------------------------
    def _soft_raise(self, ev: Event) -> None:
        c = self.soft.setdefault((ev.cpu, ev.args["intid"]), [0, 0, ev.time])
        c[0] += 1

    def _enter(self, ev: Event) -> None:
        a = ev.args
        cpu = ev.cpu
        intid = a["intid"]
        if a.get("ipi"):
            return
        if cpu is not None:
            self._entered[cpu] = ev.time
        if intid < 0:
            return  # the hardware line: the acknowledge says what was taken
        # the engine runs its handler once per raise (it cannot duplicate one)
        c = self.soft.setdefault((cpu, intid), [0, 0, ev.time])
        c[1] += 1
        self._delivered(cpu, intid)

    # -- kernel ------------------------------------------------------------------------
    def _affinity(self, ev: Event) -> None:
        a = ev.args
        cpus = a.get("cpus", "")
        allowed = frozenset(int(x) for x in str(cpus).split(",") if x.strip() != "")
        irq = a.get("irq", -1)
        intid = a.get("intid", -1)
        if intid is None:
            intid = -1
        if irq is not None and irq >= 0:
            self._aff_irq[irq] = (allowed, ev.time)
            if intid >= 0:
                self._irq_intid[irq] = intid
            else:
                # no INTID given (irq_set_affinity, the kernel's irq_affinity): the one an
                # earlier event bound to this irq, if any, moves with it
                intid = self._irq_intid.get(irq, -1)
        if intid >= 0:
            self._aff_intid[intid] = (allowed, ev.time)

    def _set_affinity(self, ev: Event) -> None:
        # the kernel layer's irq_set_affinity trace event (irq, cpus, ret, effective)
        if ev.args.get("ret", 0) == 0:
            self._affinity(ev)

    def _resend(self, ev: Event) -> None:
        # check_irq_resend without a hardware retrigger: Linux's software resend runs the
        # flow handler once more without an acknowledge
        if not ev.args.get("hw", True):
            irq = ev.args.get("irq", -1)
            self._credit[irq] = self._credit.get(irq, 0) + 1

    def _delivered(self, cpu: int | None, intid: int) -> None:
        k = (intid, -1 if cpu is None or intid >= 32 else cpu)
        self._deliv[k] = self._deliv.get(k, 0) + 1

    def _handler(self, ev: Event) -> None:
        a = ev.args
        irq = a.get("irq", -1)
        intid = self._irq_intid.get(irq)
        if intid is None:
            self._check_affinity(ev, ev.cpu, None, irq)
            return
        # affinity: checked at the acknowledge of its INTID.  Duplicates: each run of an
        # action consumes one delivery of the INTID (SGIs, PPIs: on this CPU)
        cpu = -1 if ev.cpu is None else ev.cpu
        name = a.get("name", "")
        percpu = intid < 32
        on = cpu if percpu else -1
        rk = (irq, name, intid, on)
        runs = self._runs.get(rk, 0) + 1
        self._runs[rk] = runs
        got = self._deliv.get((intid, on), 0) + self._credit.get(irq, 0)
        if runs > got:
            where = f" on CPU{cpu}" if percpu else ""
            self._report(("dup", irq, name, intid), Finding(
                "duplicate-interrupt",
                f"irq {irq} handler {name} ran {runs} times{where} for {got} "
                f"acknowledge(s) of INTID {intid}",
                details=("each run of a handler takes one acknowledge of its INTID (or an "
                         "engine interrupt entry, or a software resend); this run had none "
                         "left: one pending interrupt was handled twice"),
                step=ev.time, data={"cpu": cpu, "irq": irq, "name": name, "intid": intid,
                                    "runs": runs, "acks": got}))

    def _check_affinity(self, ev: Event, cpu: int | None, intid: int | None,
                        irq: int | None) -> None:
        if cpu is None:
            return
        if intid is not None:
            aff = self._aff_intid.get(intid)
            since = self._last_pending.get(intid, ev.time)
            what = f"INTID {intid}"
        else:
            aff = self._aff_irq.get(irq)  # type: ignore[arg-type]
            # taken before the affinity changed (in flight): allowed
            since = self._entered.get(cpu, ev.time)
            what = f"irq {irq}"
        if aff is None or cpu in aff[0] or since < aff[1]:
            return
        allowed = ",".join(str(c) for c in sorted(aff[0]))
        self._report(("aff", what, cpu), Finding(
            "affinity-violation",
            f"{what} taken on CPU{cpu}, outside its affinity {{{allowed}}} (set at step {aff[1]})",
            step=ev.time, data={"cpu": cpu, "allowed": sorted(aff[0]), "intid":
                                -1 if intid is None else intid,
                                "irq": -1 if irq is None else irq}))

    # -- interrupts the kernel took and nobody handles ---------------------------------
    def _unexpected(self, ev: Event) -> None:
        # generic_handle_domain_irq found no mapping (irq_no_mapping: domain, hwirq), or
        # the GIC driver's dispatch failed (gic_unexpected_irq: intid) -- Linux's
        # gic_handle_irq: WARN_ONCE "Unexpected interrupt", then deactivate it
        a = ev.args
        cpu = ev.cpu
        if ev.kind == "irq_no_mapping":
            hwirq = a.get("hwirq", -1)
            where = f"hwirq {hwirq} of irq domain {a.get('domain')}"
            self._unexpected_at = (cpu, hwirq, ev.time)
        else:
            hwirq = a.get("intid", -1)
            if self._unexpected_at == (cpu, hwirq, ev.time):
                return  # the same dispatch, already reported as irq_no_mapping
            where = f"INTID {hwirq}"
        self._spurious(ev, ("unexpected", cpu, hwirq),
                       f"CPU{cpu} took {where}, which maps to no Linux irq",
                       "an interrupt the GIC delivered has no handler: Linux's gic_handle_irq "
                       "WARNs 'Unexpected interrupt' and deactivates it (an interrupt enabled "
                       "or left pending without a mapping, or a mapping removed while it "
                       "could still fire)", hwirq=hwirq)

    def _bad(self, ev: Event) -> None:
        a = ev.args
        self._spurious(ev, ("bad", ev.cpu, a.get("irq")),
                       f"irq {a.get('irq')} (hwirq {a.get('hwirq')}) taken on CPU{ev.cpu} "
                       "has no flow handler (handle_bad_irq)",
                       "handle_bad_irq: Linux prints the descriptor and counts it in "
                       "irq_err_count (ack_bad_irq)", irq=a.get("irq", -1),
                       hwirq=a.get("hwirq", -1))

    def _percpu_spurious(self, ev: Event) -> None:
        a = ev.args
        self._spurious(ev, ("percpu", ev.cpu, a.get("irq")),
                       f"per-CPU irq {a.get('irq')} (hwirq {a.get('hwirq')}) taken on "
                       f"CPU{ev.cpu}, which did not enable it",
                       "handle_percpu_devid_irq: no enable_percpu_irq on this CPU; Linux "
                       "reports 'Spurious percpu IRQ' and only EOIs it", irq=a.get("irq", -1),
                       hwirq=a.get("hwirq", -1))

    def _spurious(self, ev: Event, key: tuple[Any, ...], message: str, details: str,
                  **data: Any) -> None:
        self._report(key, Finding(
            "spurious-interrupt", message, details=details, step=ev.time,
            data={"cpu": -1 if ev.cpu is None else ev.cpu, **data}))

    # -- reports -----------------------------------------------------------------------
    def _report(self, key: Any, f: Finding) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self.found.append(f)

    def finish(self, result: Any) -> list[Finding]:
        """Lost and stuck-active interrupts at the end of an ``ok`` run."""
        if getattr(result, "outcome", "ok") != "ok":
            return []
        out: list[Finding] = []
        steps = getattr(result, "steps", None)
        for k in sorted(self.pending):
            if self._is_disabled(k):
                continue  # latched on purpose: a disabled interrupt is not lost
            out.append(Finding(
                "lost-interrupt",
                f"{_name(k)} made pending at step {self.pending[k]} was never taken",
                step=steps, data={"intid": k[0], "cpu": k[1], "pending_step": self.pending[k]}))
        for (cpu, intid), (raised, taken, first) in sorted(self.soft.items(),
                                                           key=lambda kv: kv[0]):
            if taken < raised:
                out.append(Finding(
                    "lost-interrupt",
                    f"software interrupt {intid} raised {raised} times on CPU{cpu} "
                    f"(first at step {first}), handled {taken}",
                    step=steps, data={"intid": intid, "cpu": cpu, "raised": raised,
                                      "handled": taken}))
        for k in sorted(self.active):
            eoi = self._v2_eoied.get(k)
            why = ""
            if eoi is not None:
                if self._v2_mode.get(eoi[0]) != 1:
                    continue  # EOImode 0 (or never shown to be 1): the EOI deactivated it
                why = (f" (GICC_EOIR at step {eoi[1]} only dropped the priority: CPU{eoi[0]} "
                       "runs with GICC_CTLR.EOImode 1, and GICC_DIR was never written)")
            out.append(Finding(
                "stuck-active",
                f"{_name(k)} active since step {self.active[k]} was never deactivated" + why,
                step=steps, data={"intid": k[0], "cpu": k[1], "active_step": self.active[k]}))
        return out
