"""Text reports of explorations: the finding, its sites, the counterexample drawn, the replay line.

The drawing is G1's CPU-column picture (:mod:`irqlab.check.columns`) when it
is available; otherwise a plain list of the failing run's steps.  The events
come from one more run of the (shrunk) schedule with recording on, so the
exploration itself never records events.  Deterministic: no timings unless
``timing=True``.
"""

from __future__ import annotations

from typing import Any

from irqlab.check.findings import Finding
from irqlab.check.run import Outcome, Target, run_built

__all__ = ["draw", "format_finding", "format_result", "record_run", "step_list"]


def record_run(target: Target, schedule: str) -> Outcome:
    """Replay ``schedule`` on ``target`` with every event recorded."""
    from irqlab import sim

    holder: list[Any] = []

    def hook(engine: Any) -> None:
        try:
            from irqlab.check.columns import ColumnRecorder
        except ImportError:
            return
        holder.append(ColumnRecorder(engine).attach())

    out = run_built(target.build(sim.Replay(schedule)), observe=target.observe, record=True,
                    on_engine=hook)
    if holder:
        out.recorder = holder[0]
        holder[0].engine.events.unsubscribe(holder[0]._on)
    return out


def step_list(events: list[Any], *, limit: int = 200) -> str:
    """A plain numbered list of the steps (fallback drawing)."""
    lines = []
    names: dict[int, str] = {ev.args["tid"]: ev.args["name"] for ev in events
                             if ev.kind in ("sim_spawn", "sim_exit")}
    for ev in events:
        k = ev.kind
        a = ev.args
        if k == "sim_step":
            who = names.get(a["tid"], f"tid{a['tid']}")
            where = "dev " if ev.cpu is None else f"cpu{ev.cpu}"
            lab = f" {a['label']}" if a.get("label") else ""
            lines.append(f"  {ev.time:4d} {where} {who:<16} {a['op']}{lab}")
        elif k in ("sim_irq_enter", "sim_irq_exit", "sim_rcu_gp", "sim_free", "sim_error",
                   "sim_deadlock") or (k == "sim_access" and not a.get("live", True)):
            where = "    " if ev.cpu is None else f"cpu{ev.cpu}"
            lines.append(f"  {ev.time:4d} {where}   -> {ev.text()}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"  ... {len(lines) - limit} more"]
    return "\n".join(lines)


def draw(outcome: Outcome, finding: Finding | None = None) -> str:
    """The counterexample picture: CPU columns if :mod:`irqlab.check.columns` exists."""
    events = outcome.events or []
    try:
        from irqlab.check.columns import draw as draw_columns  # G1's drawing
    except ImportError:
        return step_list(events)
    source = outcome.recorder if outcome.recorder is not None else events
    if finding is not None:
        # the finding as made in *this* run (event numbers differ between runs)
        from irqlab.check.run import signature

        want = signature(finding)
        finding = next((f for f in outcome.findings if signature(f) == want), finding)
    try:
        return str(draw_columns(source, finding=finding))
    except TypeError:  # an older draw() without finding=
        step = finding.step if finding is not None else None
        return str(draw_columns(source, highlight=step))


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + ln if ln else ln for ln in text.splitlines())


def format_finding(f: Finding) -> str:
    """Kind, message, details and sites of one finding."""
    lines = [f"{f.kind}: {f.message}" + ("  (potential)" if f.potential else "")]
    if f.details:
        lines.append(_indent(f.details.rstrip()))
    for k in sorted(f.sites):
        lines.append(f"    {k}: {f.sites[k]}")
    return "\n".join(lines)


def format_result(res: Any, *, draw: bool = True, timing: bool = False) -> str:
    """The report of an :class:`~irqlab.check.explore.ExploreResult`."""
    t = res.target
    head = f"{t.name} --variant {t.variant}" if t.variant else t.name
    exp = t.expect
    verdict = res.verdict.upper()
    if t.scenario is None:
        lines = [f"{head}: {verdict}"]  # a model of the user's: it claims nothing
    else:
        ok = "as expected" if res.expected else (
            f"UNEXPECTED (variant claims {exp or 'clean'})")
        lines = [f"{head}: {verdict} ({ok})"]
    run = f"  {res.strategy}: {res.schedules} schedules"
    if res.first_at is not None:
        run += f", first finding at schedule {res.first_at}"
    if timing and res.elapsed > 0:
        run += f", {res.elapsed:.2f} s ({res.rate():.0f}/s)"
    lines.append(run)
    if res.info:
        lines.append(f"  {res.info}")
    if res.finding is None:
        return "\n".join(lines)
    out = res.outcome
    if res.shrunk is not None:
        s = res.shrunk
        lines.append(f"  shrunk to {s.preemptions} preemptions, {s.steps} steps "
                     f"(from {s.before[0]}, {s.before[1]}) in {s.runs} runs")
        out = s.outcome
    findings = out.findings if out is not None else [res.finding]
    for f in findings:
        lines.append(_indent(format_finding(f), "  "))
    if draw:
        lines.append("  counterexample:")
        try:
            rec = record_run(t, res.schedule)
        except Exception as e:  # a scenario that does not replay deterministically
            lines.append(f"    (the schedule did not replay: {type(e).__name__}: {e})")
        else:
            lines.append(_indent(globals()["draw"](rec, res.finding), "  "))
    lines.append(f"  replay: {res.replay_line}")
    return "\n".join(lines)
