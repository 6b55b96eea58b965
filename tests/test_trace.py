"""Chrome / Perfetto trace export: shape, tracks, irq slices, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irqlab.errors import InvalidArgumentType
from irqlab.events import EventStream
from irqlab.trace import PID, SYSTEM_TID, TS_PER_STEP, chrome_trace, write_chrome_trace


def stream_events(script):
    """Emit ``(time, kind, cpu, args)`` tuples on a fresh stream; return the events."""
    s = EventStream()
    rec = s.record()
    for time, kind, cpu, args in script:
        s.time = time
        s.emit(kind, cpu=cpu, **args)
    return list(rec)


def check_shape(doc: dict) -> None:
    """What ui.perfetto.dev's JSON importer needs."""
    assert set(doc) >= {"traceEvents"}
    json.dumps(doc)  # serialisable
    for e in doc["traceEvents"]:
        assert e["ph"] in ("M", "i", "B", "E")
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert isinstance(e["name"], str)
        if e["ph"] != "M":
            assert isinstance(e["ts"], int) and e["ts"] >= 0
        if e["ph"] == "i":
            assert e["s"] == "t"
    # B/E properly nested per track, in ts order
    stacks: dict[int, list[str]] = {}
    last: dict[int, int] = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "M":
            continue
        assert e["ts"] >= last.get(e["tid"], 0)
        last[e["tid"]] = e["ts"]
        if e["ph"] == "B":
            stacks.setdefault(e["tid"], []).append(e["name"])
        elif e["ph"] == "E":
            assert stacks[e["tid"]].pop() == e["name"]
    assert all(not s for s in stacks.values())


def test_hardware_events_become_instants_on_cpu_tracks() -> None:
    evs = stream_events([
        (0, "its_cmd_mapti", None, dict(devid=3, eventid=0x20, intid=0x2020, icid=1)),
        (0, "cpuif_ack", 1, dict(intid=0x2020, prio=0xA0)),
        (0, "cpuif_eoi", 1, dict(intid=0x2020)),
    ])
    doc = chrome_trace(evs, name="demo")
    check_shape(doc)
    meta = [e for e in doc["traceEvents"] if e["ph"] == "M"]
    assert meta[0] == {"name": "process_name", "ph": "M", "pid": PID, "tid": 0,
                       "args": {"name": "demo"}}
    names = {e["tid"]: e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert names == {1: "cpu1", SYSTEM_TID: "system"}
    inst = [e for e in doc["traceEvents"] if e["ph"] == "i"]
    assert [(e["name"], e["cat"], e["tid"], e["ts"]) for e in inst] == [
        ("its_cmd_mapti", "its", SYSTEM_TID, 0), ("cpuif_ack", "cpuif", 1, 1),
        ("cpuif_eoi", "cpuif", 1, 2)]
    assert inst[0]["args"] == {"devid": 3, "eventid": 0x20, "intid": 0x2020, "icid": 1,
                               "seq": 0, "time": 0,
                               "text": "its_cmd_mapti devid=0x3 eventid=0x20 intid=0x2020 "
                                       "icid=0x1"}


def test_irq_contexts_become_nested_slices() -> None:
    evs = stream_events([
        (1, "sim_step", 0, dict(op="lock")),
        (2, "sim_irq_enter", 0, dict(intid=27)),
        (2, "sim_irq_enter", 0, dict(intid=8192)),   # nested, same step
        (3, "sim_irq_exit", 0, dict(intid=8192)),
        (4, "sim_irq_exit", 0, {}),
        (4, "sim_irq_exit", 0, {}),                  # unmatched: no E
        (5, "sim_irq_enter", 2, dict(intid=-1)),     # no INTID (an IPI); never closed
    ])
    doc = chrome_trace(evs)
    check_shape(doc)
    be = [(e["ph"], e["name"], e["tid"], e["ts"]) for e in doc["traceEvents"]
          if e["ph"] in "BE"]
    assert be == [("B", "irq 27", 0, 2000), ("B", "irq 8192", 0, 2001),
                  ("E", "irq 8192", 0, 3000), ("E", "irq 27", 0, 4000),
                  ("B", "irq", 2, 5000), ("E", "irq", 2, 5000)]
    assert TS_PER_STEP == 1000


def test_write_and_determinism(tmp_path: Path) -> None:
    script = [(0, "gicr_lpi_pending", 2, dict(intid=8200, name="x y", t=(1, 2)))]
    p1, p2 = tmp_path / "a.json", tmp_path / "b.json"
    assert write_chrome_trace(stream_events(script), p1) == 4
    write_chrome_trace(stream_events(script), str(p2))
    assert p1.read_bytes() == p2.read_bytes()
    doc = json.loads(p1.read_text())
    check_shape(doc)
    assert doc["traceEvents"][-1]["args"]["t"] == [1, 2]


def test_empty() -> None:
    doc = chrome_trace([])
    check_shape(doc)
    assert [e["name"] for e in doc["traceEvents"]] == ["process_name"]


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentType, match=r"^events must hold Event objects, not 3$"):
        chrome_trace([3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentType, match=r"^name must be a str, not 1$"):
        chrome_trace([], name=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentType, match=r"^path must be a str or os.PathLike"):
        write_chrome_trace([], 5)  # type: ignore[arg-type]


_kinds = st.sampled_from(["sim_irq_enter", "sim_irq_exit", "sim_step", "cpuif_ack", "its_x"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), _kinds, st.one_of(st.none(), st.integers(0, 3)),
                          st.integers(0, 2000)), max_size=40))
def test_fuzz_shape(raw) -> None:
    time = 0
    script = []
    for dt, kind, cpu, intid in raw:
        time += dt
        script.append((time, kind, cpu, {"intid": intid}))
    check_shape(chrome_trace(stream_events(script)))
