"""``irqlab info``: a summary of a machine (from a device tree or ``virt`` options)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from irqlab.arch import virt as vm
from irqlab.cli._machine_args import add_machine_args, config_from_args
from irqlab.hw.config import MachineConfig

__all__ = ["HELP", "NAME", "machine_summary", "register", "run"]

NAME = "info"
HELP = "print a machine summary: CPUs, GIC frames, ITS, PCI, RAM"


def register(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help=HELP, description=HELP + ".")
    add_machine_args(p, default_dtb=False)
    p.add_argument("--regions", action="store_true",
                   help="also build the machine and list its bus regions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)
    return p


def _frame(name: str, base: int, size: int, note: str = "") -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "base": base, "size": size}
    if note:
        d["note"] = note
    return d


def machine_summary(c: MachineConfig) -> dict[str, Any]:
    """Everything ``irqlab info`` reports about the machine ``c`` configures (JSON-ready)."""
    cpus = []
    for i in range(c.cpus):
        a3, a2, a1, a0 = MachineConfig.mpidr_affinity(i, c.gic_version)
        cpus.append({"index": i, "mpidr": (a3 << 32) | (a2 << 16) | (a1 << 8) | a0,
                     "affinity": [a3, a2, a1, a0]})
    frames = [_frame("GICD", *c.gicd)]
    if c.gic_version == 3:
        left = c.cpus
        for n, (base, size) in enumerate(c.gicr_regions):
            used = min(left, size // vm.GICV3_REDIST_STRIDE)
            left -= used
            frames.append(_frame(f"GICR region {n}", base, size,
                                 f"{used} redistributor(s) of 128 KiB"))
        if c.its:
            frames.append(_frame("GITS", c.its_base, vm.VIRT_GIC_ITS[1],
                                 f"GITS_TRANSLATER at {c.its_base + 0x10040:#x}"))
    else:
        frames.append(_frame("GICC", *c.gicc))
        if c.v2m is not None:
            frames.append(_frame("GICv2m", *c.v2m))
    if c.virtualization and c.gic_version == 2:
        frames.append(_frame("GICH", *c.gich))
        frames.append(_frame("GICV", *c.gicv))
    return {
        "cpus": cpus,
        "gic": {"version": c.gic_version, "spis": c.spis,
                "intids": f"SPIs 32..{c.intid_limit - 1}", "idbits": c.idbits,
                "lpis": c.gic_version == 3 and (c.its or c.direct_lpi),
                # stored priority bits (GICD/GICR; the one width of a GICv2) and the
                # GICv3 CPU interface's PRIbits
                "priority_bits": c.distributor_priority_bits,
                "cpuif_priority_bits": c.priority_bits if c.gic_version == 3 else None,
                "virtualization": c.virtualization,
                "maintenance_intid": 16 + c.maintenance_ppi if c.virtualization else None,
                "frames": frames},
        "its": ({"base": c.its_base, "translater": c.its_base + 0x10040,
                 "device_bits": c.its_device_bits, "event_bits": c.its_event_bits,
                 "icid_bits": c.its_icid_bits, "pta": c.its_pta,
                 "command_errors": c.its_command_errors} if c.its else None),
        "pci": {"ecam": list(c.pcie_ecam), "mmio": list(c.pcie_mmio),
                "msi_map": {"rid_base": c.msi_map[0], "devid_base": c.msi_map[1],
                            "length": c.msi_map[2]},
                "functions": [{"bdf": f.bdf, "vendor_id": f.vendor_id,
                               "device_id": f.device_id, "msi_vectors": f.msi_vectors,
                               "msix_vectors": f.msix_vectors} for f in c.pci_functions]},
        "ram": list(c.ram),
    }


def _range(base: int, size: int) -> str:
    return f"{base:#014x}-{base + size - 1:#014x}"


def format_summary(s: dict[str, Any]) -> str:
    """The human-readable form of :func:`machine_summary`."""
    g = s["gic"]
    out = [f"CPUs      {len(s['cpus'])}: " + ", ".join(
        f"cpu{c['index']}=MPIDR {c['mpidr']:#x}" for c in s["cpus"][:8])
        + (", ..." if len(s["cpus"]) > 8 else "")]
    out.append(f"GIC       v{g['version']}, {g['spis']} SPIs ({g['intids']}), "
               f"IDbits={g['idbits']}, LPIs {'yes' if g['lpis'] else 'no'}, "
               f"{g['priority_bits']} priority bits"
               + (f" ({g['cpuif_priority_bits']} in the CPU interface)"
                  if g["cpuif_priority_bits"] is not None else ""))
    if g["virtualization"]:
        out.append(f"          virtualization extensions, maintenance interrupt INTID "
                   f"{g['maintenance_intid']}")
    for f in g["frames"]:
        note = f"  ({f['note']})" if "note" in f else ""
        out.append(f"  {f['name']:<15} {_range(f['base'], f['size'])}{note}")
    its = s["its"]
    if its:
        out.append(f"ITS       at {its['base']:#x}: {its['device_bits']}-bit DeviceID, "
                   f"{its['event_bits']}-bit EventID, {its['icid_bits']}-bit ICID, "
                   f"PTA={int(its['pta'])}, command errors: {its['command_errors']}")
    else:
        out.append("ITS       none")
    p = s["pci"]
    m = p["msi_map"]
    out.append(f"PCIe      ECAM {_range(*p['ecam'])}, MMIO {_range(*p['mmio'])}")
    out.append(f"          msi-map: RID {m['rid_base']:#x}+{m['length']:#x} -> DeviceID "
               f"{m['devid_base']:#x}; {len(p['functions'])} function(s)")
    for f in p["functions"]:
        b = f["bdf"]
        out.append(f"  {b >> 8:02x}:{(b >> 3) & 31:02x}.{b & 7} {f['vendor_id']:04x}:"
                   f"{f['device_id']:04x} MSI x{f['msi_vectors']} MSI-X x{f['msix_vectors']}")
    out.append(f"RAM       {_range(*s['ram'])} ({s['ram'][1] >> 20} MiB)")
    if "bus_regions" in s:
        out.append(f"bus       {len(s['bus_regions'])} regions:")
        out += [f"  {_range(r['base'], r['size'])}  {r['name']}" for r in s["bus_regions"]]
    return "\n".join(out)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args, default_dtb=False)
    summary = machine_summary(config)
    if args.regions:
        from irqlab.hw.machine import Machine

        m = Machine(config)
        summary["bus_regions"] = [{"name": r.name, "base": r.base, "size": r.size}
                                  for r in m.bus.regions]
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_summary(summary))
    return 0
