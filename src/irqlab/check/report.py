"""Text reports of explorations: the finding, its sites, the counterexample drawn, the replay line.

The drawing is the CPU-column picture of :mod:`irqlab.check.columns`.  The events
come from one more run of the (shrunk) schedule with recording on, so the
exploration itself never records events.  Deterministic: no timings unless
``timing=True``.
"""

from __future__ import annotations

from typing import Any

from irqlab.check.findings import Finding
from irqlab.check.run import Outcome, Target, run_built

__all__ = ["draw", "format_finding", "format_outcome", "format_result", "record_run", "replay"]


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


def replay(target: Any, schedule: str, variant: str | None = None, *,
           params: dict[str, Any] | None = None, observe: bool | str = True) -> Outcome:
    """Run ``schedule`` (a schedule string a report printed) on ``target`` -- a scenario
    name with ``variant``/``params``, a :class:`~irqlab.check.run.Target` or a factory
    ``(strategy) -> World | Engine`` -- with every event recorded; ``print(out.report())``
    shows the findings and the run in CPU columns.  A schedule of another model, or one
    the run no longer follows, raises :class:`~irqlab.sim.ScheduleDivergence`."""
    from irqlab.check.run import make_target

    if not isinstance(schedule, str):
        from irqlab.errors import InvalidArgumentType

        raise InvalidArgumentType(f"schedule must be a schedule string, not {schedule!r}")
    return record_run(make_target(target, variant, params, observe=observe), schedule)


def format_outcome(out: Outcome, *, draw: bool = True, head: str | None = None) -> str:
    """The text of one recorded run: outcome, summary, findings, the drawing, the verdict.

    ``head`` replaces the first line (the outcome, the number of steps and the schedule).
    """
    res = out.result
    lines = [f"{res.outcome} after {res.steps} steps: {res.schedule}" if head is None
             else head]
    summary = out.world.summary(res) if out.world is not None else ""
    if summary:
        lines.append("  " + summary.rstrip().replace("\n", "\n  "))
    for f in out.findings:
        lines.append("  " + format_finding(f).replace("\n", "\n  "))
    if draw:
        lines.append("  run:")
        lines.append(_indent(_draw(out, out.findings[0] if out.findings else None)))
    lines.append(f"verdict: {'FINDING' if out.findings else 'CLEAN'}")
    return "\n".join(lines)


def draw(outcome: Outcome, finding: Finding | None = None) -> str:
    """The counterexample picture: the run in CPU columns (:mod:`irqlab.check.columns`)."""
    from irqlab.check.columns import draw as draw_columns
    from irqlab.check.run import signature

    source = outcome.recorder if outcome.recorder is not None else (outcome.events or [])
    if finding is not None:
        # the finding as made in *this* run (event numbers differ between runs)
        want = signature(finding)
        finding = next((f for f in outcome.findings if signature(f) == want), finding)
    return str(draw_columns(source, finding=finding))


_draw = draw  # (the report functions' ``draw`` argument shadows it)


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
    if t.scenario is None and exp is None:
        lines = [f"{head}: {verdict}"]  # a model of the user's: it claims nothing
    elif t.scenario is None:
        ok = "as expected" if res.expected else f"UNEXPECTED (expected {exp})"
        lines = [f"{head}: {verdict} ({ok})"]
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
            lines.append(_indent(_draw(rec, res.finding), "  "))
    lines.append(f"  replay: {res.replay_line}")
    return "\n".join(lines)
