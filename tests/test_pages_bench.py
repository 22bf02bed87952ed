"""bench/bench_pages.py's breakdown helpers: the browser's time split read from Chrome DevTools Protocol output
(a response captured from Debian's chromium, and a live one), the chart times and the report."""
from __future__ import annotations

import importlib.util
import io
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Performance.getMetrics as Chromium answered it for a page that ran a loop of 3e6 additions (captured from
# /usr/bin/chromium through Playwright's CDP session, 2026-12-06)
CAPTURED = {"metrics": [
    {"name": "Timestamp", "value": 35730.08233},
    {"name": "AudioHandlers", "value": 0},
    {"name": "AudioWorkletProcessors", "value": 0},
    {"name": "Documents", "value": 2},
    {"name": "Frames", "value": 1},
    {"name": "JSEventListeners", "value": 0},
    {"name": "LayoutObjects", "value": 8},
    {"name": "MediaKeySessions", "value": 0},
    {"name": "MediaKeys", "value": 0},
    {"name": "Nodes", "value": 15},
    {"name": "Resources", "value": 0},
    {"name": "ContextLifecycleStateObservers", "value": 4},
    {"name": "V8PerContextDatas", "value": 2},
    {"name": "WorkerGlobalScopes", "value": 0},
    {"name": "UACSSResources", "value": 0},
    {"name": "RTCPeerConnections", "value": 0},
    {"name": "ResourceFetchers", "value": 2},
    {"name": "AdSubframes", "value": 0},
    {"name": "DetachedScriptStates", "value": 0},
    {"name": "ArrayBufferContents", "value": 0},
    {"name": "LayoutCount", "value": 1},
    {"name": "RecalcStyleCount", "value": 1},
    {"name": "LayoutDuration", "value": 0.003556},
    {"name": "RecalcStyleDuration", "value": 0.002775},
    {"name": "DevToolsCommandDuration", "value": 0.008455},
    {"name": "ScriptDuration", "value": 0.048495},
    {"name": "V8CompileDuration", "value": 8.2e-05},
    {"name": "TaskDuration", "value": 0.074693},
    {"name": "TaskOtherDuration", "value": 0.01133},
    {"name": "ThreadTime", "value": 0.038388},
    {"name": "ProcessTime", "value": 0.07},
    {"name": "JSHeapUsedSize", "value": 918436},
    {"name": "JSHeapTotalSize", "value": 3932160},
    {"name": "FirstMeaningfulPaint", "value": 0},
    {"name": "DomContentLoaded", "value": 35729.806795},
    {"name": "NavigationStart", "value": 35729.641239}
]}


def _bench():
    spec = importlib.util.spec_from_file_location("bench_pages", ROOT / "bench" / "bench_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_perf_metrics_reads_the_durations_of_a_captured_cdp_response():
    bench = _bench()
    got = bench.perf_metrics(CAPTURED)
    assert got == {"TaskDuration": 0.074693, "ScriptDuration": 0.048495, "LayoutDuration": 0.003556,
                   "RecalcStyleDuration": 0.002775}
    # counts and timestamps of the same response are not durations
    assert "LayoutCount" not in got and "Timestamp" not in got
    # a metric this Chromium did not report reads 0, not a KeyError
    assert bench.perf_metrics({"metrics": [{"name": "TaskDuration", "value": 1.5}]})["ScriptDuration"] == 0.0
    later = {"metrics": [{**m, "value": m["value"] + 0.25} if m["name"] == "ScriptDuration" else m
                         for m in CAPTURED["metrics"]]}
    delta = bench.metrics_delta(got, bench.perf_metrics(later))
    assert delta["ScriptDuration"] == pytest.approx(0.25) and delta["TaskDuration"] == 0.0


def test_chart_times_first_and_each_further_chart():
    bench = _bench()
    assert bench.chart_times([]) == (None, None)
    assert bench.chart_times([1.2]) == (1.2, None)
    first, more = bench.chart_times([1.0, 1.25, 1.6])
    assert first == 1.0 and more == pytest.approx(0.3)


def test_report_prints_the_browser_split_and_the_load():
    bench = _bench()
    split = {"tab_TaskDuration": 2.5, "tab_ScriptDuration": 1.7, "tab_LayoutDuration": 0.1,
             "tab_RecalcStyleDuration": 0.08, "switch_TaskDuration": 0.9, "switch_ScriptDuration": 0.4,
             "switch_LayoutDuration": 0.05, "switch_RecalcStyleDuration": 0.07}
    results = {"demo · tree": {
        "session": {"": {"server_s": 0.1, "ws_kb": 41, "charts": 3, "chart_kb": 14, "elements": 42, "title": "全校总览"},
                    "floor": {"server_s": 0.05, "ws_kb": 5, "charts": 1, "chart_kb": 4, "elements": 2}},
        "browser": {"": {"tab": 3.0, "bytes": 40000, "switch": 0.8, "first": 2.9, "more": 0.05, "load": 4.2,
                         "switch_load": 4.4, **split},
                    "floor": {"tab": 2.0, "bytes": 6000, "first": 1.9, "load": 4.0,
                              **{k: v for k, v in split.items() if k.startswith("tab_")}}},
        "load": {"session": 3.1}}}
    out = io.StringIO()
    bench.report(results, out=out)
    text = out.getvalue()
    assert "(load during the sessions 3.1)" in text
    row = next(line for line in text.splitlines() if line.startswith("/(总览)") and "|" in line and "1.50" in line)
    assert row.rstrip().endswith("4.2") and "0.80 !" in row  # ×floor 1.50, the switch over 0.7 s marked
    split_row = [line for line in text.splitlines() if line.startswith("/(总览)")][1]
    assert split_row.split("|")[1].split() == ["2.90", "0.05"]
    assert split_row.split("|")[2].split() == ["2.50", "1.70", "0.10", "0.08"]
    assert split_row.split("|")[3].split() == ["0.90", "0.40", "0.05", "0.07"]


@pytest.mark.browser
def test_perf_metrics_on_a_live_chromium_page(page):
    """The split read from Chromium itself: JavaScript run between two readings shows in ScriptDuration."""
    bench = _bench()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.set_content("<p id=x>0</p>")
    before = bench.perf_metrics(cdp.send("Performance.getMetrics"))
    t = time.perf_counter()
    # the page's own task (a timer), as a page's scripts run; DevTools' evaluate itself is not counted as script
    page.evaluate("() => setTimeout(() => { let s = 0; const end = performance.now() + 200; "
                  "while (performance.now() < end) s++; document.getElementById('x').textContent = s; }, 0)")
    page.wait_for_function("() => document.getElementById('x').textContent !== '0'")
    spent = time.perf_counter() - t
    delta = bench.metrics_delta(before, bench.perf_metrics(cdp.send("Performance.getMetrics")))
    assert 0.15 <= delta["ScriptDuration"] <= spent + 0.05
    assert delta["TaskDuration"] >= delta["ScriptDuration"]
