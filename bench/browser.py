"""Pages in real Chromium (Playwright): time from navigation until the page has drawn what it is for.

Serves the benchmark's SQLite database with `manage.py runserver` on a free
port and loads each page cold (a new browser context each time: empty cache),
after one warm-up load, best and median of N. "Shown" means, per page:
  experiment page: the load event fired (the whole table is parsed) and its rows are in the DOM;
  dashboard:       the load event fired and the team's experiments table is in the DOM;
  compare page:    every chart above the fold has drawn all its curves (when the page exists).
Bytes are the response bodies Playwright saw for the load. For each cold load it also
reads where the time went, from the page's Performance API (`phases_ms`: HTML received,
plotly.min.js received, the User Timing marks "compare: ..." that compare.js sets).

A page is {"url", "drawn": a JS condition or a key of DRAWN, "team": the team to switch
to first (optional), "expect": a JS condition checked once, after the warm-up load, that
the page shows the data it is meant to (optional)}:

    .venv/bin/python bench/browser.py --db sqlite:////tmp/x.sqlite3 --pages '{"experiment": {"url": "/experiments/3/", "drawn": "experiment"}}'

Note on the figures: Playwright enables the DevTools protocol's Runtime domain, and then V8
records a full stack trace, with line numbers, for every error thrown, even one caught at once.
Plotly's bundled polyfills throw and catch a few errors while plotly.min.js initialises; the line
numbers of the functions on the stack cost re-parsing the 4.8 MB bundle about three times, so
plotly.min.js evaluates here in about twice the time it takes in a Chromium that no DevTools
client drives (2.1 s against 1.0 s, median of 6, at a load average of about 8). A user without
DevTools open does not pay that. So each cold load is also timed in a Chromium driven without
Playwright (devtools_pipe.py): `no_devtools_median_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
USER, PASSWORD = "bench-harness", "bench-harness-pass"
# JS conditions for "drawn", by the kind of page (the part of the URL after /experiments/<id>/).
DRAWN = {
    "experiment": "document.readyState === 'complete' && document.querySelectorAll('#runs tbody tr').length > 0",
    "dashboard": "document.readyState === 'complete' && "
    "document.querySelectorAll('[data-section=experiments] tbody tr').length > 0",
    # compare.js writes "N points drawn" right after Plotly has drawn the curves (SVG or WebGL) and the
    # parallel-coordinates plot.
    "compare": "(() => { const m = document.getElementById('compare-meta'); const c = document.getElementById("
    "'chart-compare'); return m && m.textContent.includes('points drawn') && c && "
    "(c.querySelector('.scatterlayer .trace') || c.querySelector('canvas')); })()",
    "charts": "(() => { const c = document.querySelectorAll('.js-plotly-plot'); return c.length >= {charts} && "
    "[...c].slice(0, {charts}).every(p => p.querySelectorAll('.scatterlayer .trace path.js-line').length "
    ">= {traces}); })()",
}


def serve(db_url: str) -> tuple[subprocess.Popen, str]:
    from webapp.local_redis import free_port

    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "DEBUG": "true"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/login/", timeout=1)
            return proc, base
        except Exception:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("runserver did not answer within 30 s")


# Milliseconds from navigation to: the HTML received, plotly.min.js received, and each User Timing mark.
PHASES = """(() => {
  const out = {"HTML received": performance.getEntriesByType("navigation")[0].responseEnd};
  const plotly = performance.getEntriesByType("resource").find((r) => r.name.includes("plotly.min.js"));
  if (plotly) out["plotly.min.js received"] = plotly.responseEnd;
  performance.getEntriesByType("mark").forEach((m) => { out[m.name] = m.startTime; });
  return out;
})()"""


def log_in(page, base: str, team: str | None) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    if team and page.locator("#team-switch-select").count():
        with page.expect_navigation():
            page.select_option("#team-switch-select", label=team)


def load_once(browser, base: str, spec: dict, shot: pathlib.Path | None, check: bool) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log_in(page, base, spec.get("team"))
    url, condition = base + spec["url"], DRAWN.get(spec["drawn"], spec["drawn"])
    sizes: list[int] = []

    def count(req) -> None:
        sizes.append(req.sizes()["responseBodySize"])

    page.on("requestfinished", count)
    shown = timed_goto(page, url, condition)
    page.remove_listener("requestfinished", count)
    cold_bytes, cold_requests = sum(sizes), len(sizes)
    phases = page.evaluate(PHASES)
    if check and spec.get("expect") and not page.evaluate(spec["expect"]):
        raise RuntimeError(f"{spec['url']} does not show what the benchmark built (expected {spec['expect']})")
    if shot:
        page.screenshot(path=str(shot), full_page=True)
    heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
    # A returning visitor: the same browser profile a third time (V8 keeps compiled code from the second).
    timed_goto(page, url, condition)
    warm = timed_goto(page, url, condition)
    context.close()
    return {
        "shown_s": shown,
        "warm_s": warm,
        "bytes": cold_bytes,
        "requests": cold_requests,
        "js_heap_mb": heap / 2**20,
        "phases_ms": phases,
    }


def timed_goto(page, url: str, condition: str) -> float:
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(condition, polling=50, timeout=60000)
    return time.perf_counter() - t0


def measure(db_url: str, pages: dict[str, dict], repeats: int, shots: pathlib.Path | None) -> dict:
    """pages: label -> spec (see the module's docstring). Round-robin over pages, one warm-up each; each
    cold load in Playwright is followed by one in a Chromium without a DevTools client (devtools_pipe.py)."""
    if not shutil.which(CHROMIUM):
        return {"skipped": f"{CHROMIUM} not installed"}
    import devtools_pipe
    from playwright.sync_api import sync_playwright

    proc, base = serve(db_url)
    results: dict[str, list[dict]] = {label: [] for label in pages}
    no_devtools: dict[str, list[float]] = {label: [] for label in pages}
    pipe = devtools_pipe.Pipe(CHROMIUM, FLAGS)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for i in range(repeats + 1):
                for label, spec in pages.items():
                    shot = shots / f"bench_{label.split()[0]}.png" if shots and i == 1 else None
                    r = load_once(browser, base, spec, shot, check=i == 0)
                    plain = devtools_pipe.cold_load(
                        pipe, base, (USER, PASSWORD), spec, DRAWN.get(spec["drawn"], spec["drawn"])
                    )
                    if i:
                        results[label].append(r)
                        no_devtools[label].append(plain)
            browser.close()
    finally:
        pipe.close()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    return {
        label: {
            "median_s": statistics.median(r["shown_s"] for r in rs),
            "best_s": min(r["shown_s"] for r in rs),
            "warm_median_s": statistics.median(r["warm_s"] for r in rs),
            "no_devtools_median_s": statistics.median(no_devtools[label]),
            "bytes": rs[-1]["bytes"],
            "requests": rs[-1]["requests"],
            "js_heap_mb": rs[-1]["js_heap_mb"],
            "phases_ms": median_phases([r["phases_ms"] for r in rs]),
            "load": load_average(),
        }
        for label, rs in results.items()
    }


def median_phases(loads: list[dict]) -> dict:
    """The median of each phase that every load reached before it was drawn, in the order of those medians
    (one reached in some loads only, such as a chart mounted after the others, would mislead)."""
    names = set.intersection(*(set(phases) for phases in loads))
    medians = {name: statistics.median(p[name] for p in loads) for name in names}
    return dict(sorted(medians.items(), key=lambda kv: kv[1]))


def load_average() -> str:
    return " ".join(pathlib.Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument(
        "--pages", required=True, help='JSON: {"label": {"url": ..., "drawn": ..., "team": ..., "expect": ...}}'
    )
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shots", help="directory for one screenshot per page")
    args = ap.parse_args()
    pages = json.loads(args.pages)
    shots = pathlib.Path(args.shots) if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(args.db, pages, args.repeats, shots)))


if __name__ == "__main__":
    main()
