"""Pages in real Chromium (Playwright): time from navigation until the page has drawn what it is for.

Serves the benchmark's SQLite database with `manage.py runserver` on a free
port and loads each page cold (a new browser context each time: empty cache),
after one warm-up load, best and median of N. "Shown" means, per page:
  experiment page: the load event fired (the whole table is parsed) and its rows are in the DOM;
  compare page:    every chart above the fold has drawn all its curves (when the page exists).
Bytes are the response bodies Playwright saw for the load.

    .venv/bin/python bench/browser.py --db sqlite:////tmp/x.sqlite3 --pages '{"experiment": ["/experiments/3/", "JS"]}'
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
    proc = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                             f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/login/", timeout=1)
            return proc, base
        except Exception:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("runserver did not answer within 30 s")


def load_once(browser, base: str, url: str, condition: str, shot: pathlib.Path | None) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(base + "/login/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    sizes: list[int] = []
    page.on("requestfinished", lambda req: sizes.append(req.sizes()["responseBodySize"]))
    shown = timed_goto(page, base + url, condition)
    cold_bytes, cold_requests = sum(sizes), len(sizes)
    if shot:
        page.screenshot(path=str(shot), full_page=True)
    heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
    # A returning visitor: the same browser profile a third time (V8 keeps compiled code from the second).
    timed_goto(page, base + url, condition)
    warm = timed_goto(page, base + url, condition)
    context.close()
    return {"shown_s": shown, "warm_s": warm, "bytes": cold_bytes, "requests": cold_requests,
            "js_heap_mb": heap / 2**20}


def timed_goto(page, url: str, condition: str) -> float:
    t0 = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(condition, polling=50, timeout=60000)
    return time.perf_counter() - t0


def measure(db_url: str, pages: dict[str, tuple[str, str]], repeats: int, shots: pathlib.Path | None) -> dict:
    """pages: label -> (url, JS condition). Round-robin over pages, one warm-up each."""
    if not shutil.which(CHROMIUM):
        return {"skipped": f"{CHROMIUM} not installed"}
    from playwright.sync_api import sync_playwright

    proc, base = serve(db_url)
    results: dict[str, list[dict]] = {label: [] for label in pages}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            for i in range(repeats + 1):
                for label, (url, cond) in pages.items():
                    shot = shots / f"bench_{label.split()[0]}.png" if shots and i == 1 else None
                    r = load_once(browser, base, url, cond, shot)
                    if i:
                        results[label].append(r)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    return {label: {"median_s": statistics.median(r["shown_s"] for r in rs), "best_s": min(r["shown_s"] for r in rs),
                    "warm_median_s": statistics.median(r["warm_s"] for r in rs),
                    "bytes": rs[-1]["bytes"], "requests": rs[-1]["requests"], "js_heap_mb": rs[-1]["js_heap_mb"]}
            for label, rs in results.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--pages", required=True, help='JSON: {"label": ["url", "JS condition"], ...}')
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--shots", help="directory for one screenshot per page")
    args = ap.parse_args()
    pages = {label: tuple(v) for label, v in json.loads(args.pages).items()}
    shots = pathlib.Path(args.shots) if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(args.db, pages, args.repeats, shots)))


if __name__ == "__main__":
    main()
