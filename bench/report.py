"""Turn the collected figures into one table: each row LossLab beside its baseline, as a ratio, with the target."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    area: str
    figure: str
    losslab: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    ok: bool | None = None  # None: no target, or not measured

    @property
    def mark(self) -> str:
        return {True: "ok", False: "MISSED", None: ""}[self.ok]


def pending(area: str, figure: str, why: str, target: str = "") -> Row:
    return Row(area, figure, f"pending: {why}", target=target)


def pct(ratio: float) -> str:
    return f"{100 * (ratio - 1):+.1f}%"


OVERHEAD_TARGET = 1.02


def training_rows(training: dict) -> list[Row]:
    rows = []
    overhead = dict(training.get("overhead", {}))
    resolution = overhead.pop("resolution", {})
    for threads, cases in overhead.items():
        rows += [overhead_row(threads, case) for case in cases]
        if threads in resolution:
            rows.append(resolution_row(threads, resolution[threads]))
    for batch, fig in training.get("train_eval", {}).items():
        rows.append(
            Row(
                "training",
                f"its share: the eval-mode training sample ({fig['rows']} rows, beside val's "
                f"{fig['val_rows']}) in an epoch at batch {batch}, {fig['threads']} thread (CPU time)",
                f"+{fig['evaluate'] - fig['val_only']:.2f} ms of {fig['epoch']:.1f} ms",
                f"val alone {fig['val_only']:.2f} ms",
                pct(1 + fig["share"]),
                "≤ +1%",
                fig["share"] <= 0.01,
            )
        )
    for name, by_batch in training.get("data_path", {}).items():
        for batch, kinds in by_batch.items():
            w = kinds["wall"]
            dl = w["dataloader"] / w["bare"]
            rows.append(
                Row(
                    "training",
                    f"{name}, batch {batch}: DataLoader(TensorDataset) vs tensor indexing (data path)",
                    f"{w['bare']:.3f} s (indexing)",
                    f"{w['dataloader']:.3f} s",
                    f"DataLoader/indexing {dl:.2f}",
                )
            )
    return rows


def overhead_row(threads: str, case: dict) -> Row:
    """One worker-path row: median of the kept pairs' ratios over fresh process pairs, its interval and range."""
    what = (
        f"worker path (engine.train + DbReporter{', checkpoints' if case['checkpoint'] else ''}) vs a "
        f"hand-written torch.nn loop, digits, batch {case['batch']}, {case['epochs']} epochs, {threads} "
        f"thread{'s' if threads != '1' else ''}"
    )
    if not case.get("kept"):
        return no_pair_row(what, case)
    ckpt = f", {case['checkpoints']} checkpoint(s) a run" if case["checkpoint"] else ""
    return Row(
        "training",
        what,
        f"{case['worker_s']:.3f} s{ckpt}",
        f"{case['hand_s']:.3f} s",
        pair_figure(case),
        f"≤ {OVERHEAD_TARGET}",
        case["median"] <= OVERHEAD_TARGET,
    )


def resolution_row(threads: str, case: dict) -> Row:
    """The hand-written loop against a second process of itself, measured like the rows above."""
    what = (
        f"resolution of the rows above: the hand-written loop against itself (two processes), batch "
        f"{case['batch']}, {case['epochs']} epochs, {threads} thread{'s' if threads != '1' else ''}"
    )
    if not case.get("kept"):
        return no_pair_row(what, case)
    return Row("training", what, f"{case['worker_s']:.3f} s", f"{case['hand_s']:.3f} s", pair_figure(case))


def pair_figure(case: dict) -> str:
    r, (lo, hi) = case["ratios"], case["interval"]
    rounds = ", ".join(f"{m:.3f}" for m in case["round_medians"])
    return (
        f"×{case['median']:.3f} (95% interval {lo:.3f}-{hi:.3f}; {case['kept']} pairs in {case['rounds']} rounds "
        f"of fresh processes, round medians {rounds}; range {r[0]:.3f}-{r[-1]:.3f}; {case['dropped']} dropped; "
        f"CPU ×{case['cpu_median']:.3f})"
    )


def no_pair_row(what: str, case: dict) -> Row:
    cpu = case.get("cpu_all_pairs")
    return Row(
        "training",
        what,
        f"no pair kept: all {case['dropped']} waited for a CPU",
        "",
        f"CPU time of all pairs ×{cpu:.3f} (not the figure)" if cpu else "",
        f"≤ {OVERHEAD_TARGET}",
    )


def logging_rows(db: dict, ml: dict | None, backend: str) -> list[Row]:
    rows = []
    for batch, modes in db.get("logging", {}).items():
        bare, ours = modes["bare"], modes["losslab"]
        r_ours = ours["mean_s"] / bare["mean_s"]
        per_step = 1000 * (ours["mean_s"] - bare["mean_s"]) / max(1, bare["steps"])
        for mode, label in (("log_metric", "log_metric"), ("log_metric_async", "log_metric(synchronous=False)")):
            if ml is None:
                rows.append(
                    Row(
                        "logging",
                        f"[{backend}] per-step reporting, batch {batch}, vs MLflow {label}",
                        f"{pct(r_ours)} ({per_step:+.3f} ms/step)",
                        "MLflow venv absent",
                        target="≤ +3%",
                        ok=r_ours <= 1.03,
                    )
                )
                break
            mm = ml["logging"][batch]
            r_ml = mm[mode]["mean_s"] / mm["bare"]["mean_s"]
            ml_step = 1000 * (mm[mode]["mean_s"] - mm["bare"]["mean_s"]) / max(1, mm["bare"]["steps"])
            note = f"; +{mm[mode]['final_flush_s']:.2f} s final flush" if "final_flush_s" in mm[mode] else ""
            rows.append(
                Row(
                    "logging",
                    f"[{backend}] per-step reporting, batch {batch}: loop time vs bare, LossLab DbReporter "
                    f"vs MLflow {label}",
                    f"{pct(r_ours)} ({per_step:+.3f} ms/step)",
                    f"{pct(r_ml)} ({ml_step:+.2f} ms/step{note})",
                    f"MLflow's loop ×{r_ml / r_ours:.2f} LossLab's",
                    "≤ +3%",
                    r_ours <= 1.03,
                )
            )
    eng = db.get("engine")
    if eng:  # the worker path against a hand-written loop is in the training rows (bench/overhead.py)
        mem = eng.get("engine_memory")
        if mem:
            rd, rdc = eng["engine_db"]["best_s"] / mem["best_s"], eng["engine_db"]["cpu_s"] / mem["cpu_s"]
            rows.append(
                Row(
                    "logging",
                    f"[{backend}] the database's share: engine + DbReporter vs the same engine "
                    "keeping points in memory (both checkpointing)",
                    f"{eng['engine_db']['best_s']:.3f} s",
                    f"{mem['best_s']:.3f} s",
                    f"{rd:.3f} ({pct(rd)}); CPU {rdc:.3f}",
                    "≤ 1.03",
                    rd <= 1.03,
                )
            )
    return rows


def ingestion_rows(db: dict, ml: dict | None, backend: str) -> list[Row]:
    ing = db.get("ingestion")
    if not ing:
        return []
    ours = ing["points_per_s"]
    if ml is None:
        return [
            Row(
                "ingestion",
                f"[{backend}] points/s, run_record_metrics, 1,000 per call",
                f"{ours:,.0f}/s",
                "MLflow venv absent",
                target="≥ 10× log_batch",
            )
        ]
    theirs = ml["ingestion"]["points_per_s"]
    return [
        Row(
            "ingestion",
            f"[{backend}] points/s, 1,000 per call: run_record_metrics vs MLflow log_batch",
            f"{ours:,.0f}/s",
            f"{theirs:,.0f}/s",
            f"×{ours / theirs:.1f}",
            "≥ ×10",
            ours / theirs >= 10,
        )
    ]


def listing_rows(db: dict, backend: str) -> list[Row]:
    lst = db.get("listing")
    if not lst:
        return []
    rows = []
    for label, sizes in lst["pages"].items():
        big, small = sizes["big"], sizes["small"]
        const = big["queries"] == small["queries"]
        ok = const and big.get("p95_ms", big["median_ms"]) <= 300
        rows.append(
            Row(
                "listing",
                f"[{backend}] {label}, {lst['runs_big']:,} runs with real-size summaries (vs {lst['runs_small']:,}): "
                "server time median / p95 / max, SQL queries, payload",
                f"{big['median_ms']:.0f} / {big.get('p95_ms', 0):.0f} / {big.get('max_ms', 0):.0f} ms, "
                f"{big['queries']} queries, {big['bytes'] / 1e3:.0f} kB",
                f"{small['median_ms']:.0f} ms, {small['queries']} queries at {lst['runs_small']:,} runs",
                "queries constant" if const else "QUERIES GROW",
                "p95 ≤ 300 ms, constant queries",
                ok,
            )
        )
    return rows


def queue_rows(q: dict) -> list[Row]:
    if not q:
        return [Row("queue", "submit → running; runs/minute", "failed (see the log above)")]
    lat = sorted(q["latency_s"])
    return [
        Row(
            "queue",
            f"submit → running with an idle worker, {len(lat)} runs (median; max)",
            f"{1000 * q['median_s']:.0f} ms; {1000 * lat[-1]:.0f} ms",
            "",
            "",
            "≤ 1 s median",
            q["median_s"] <= 1,
        ),
        Row(
            "queue",
            f"turnover: {q['turnover_runs']} instant runs (iris, 1 epoch) on one worker",
            f"{q['runs_per_min']:.0f} runs/min ({60 / q['runs_per_min']:.2f} s per run, training included)",
        ),
    ]


def footprint_rows(fp: dict | None) -> list[Row]:
    if not fp:
        return []
    roles = ", ".join(f"{k} {v:.0f}" for k, v in sorted(fp["rss_by_role_mb"].items()))
    ready = fp.get("ready_s")
    rows = []
    for when, key in (("idle before a run", "pss_before_mb"), ("idle after one run", "pss_after_mb")):
        pss = fp.get(key)
        if not pss:
            continue
        total = sum(pss.values())
        parts = ", ".join(f"{k} {v:.0f}" for k, v in sorted(pss.items(), key=lambda kv: -kv[1]))
        run = fp.get("run") or {}
        label = f"`make run` {when}: PSS summed over every process it starts"
        if key == "pss_after_mb" and run:
            label += f" (tutorial preset, 5 epochs: {run.get('status')} in {run.get('seconds', 0):.0f} s)"
        rows.append(Row("footprint", label, f"{total:.0f} MB ({parts})", "", "", "≤ 400 MB", total <= 400))
    rows += [
        Row(
            "footprint",
            "`make run` idle: resident memory of web + worker (main + pool child) + scheduler",
            f"{fp['rss_mb']:.0f} MB ({roles})",
            "MLflow server: 1,100-2,600 MB (anchor)",
            f"×{1100 / fp['rss_mb']:.1f}-{2600 / fp['rss_mb']:.1f} less",
            "≤ 600 MB",
            fp["rss_mb"] <= 600,
        ),
        Row(
            "footprint",
            "`manage.py runlocal` to /login/ 200 and worker ready",
            f"{ready:.1f} s (web {fp['web_ready_s']:.1f}, worker {fp['worker_ready_s']:.1f})" if ready else "not ready",
            "MLflow server: 4-9 s (anchor)",
            "",
            "≤ 5 s",
            bool(ready and ready <= 5),
        ),
    ]
    return rows


def compare_rows(ours: dict | None, ml: dict | None, backend: str) -> list[Row]:
    if not ours:
        return []
    r = ours["read"]
    what = f"[{backend}] {ours['runs']} runs × {ours['steps']:,} steps × 2 metrics: GET /api/experiments/{{id}}/compare"
    mine = f"{r['median_ms']:.0f} ms (CPU {r['cpu_ms']:.0f}), {r['bytes'] / 1e6:.2f} MB, {r['points']:,} points"
    target = "≤ 300 ms, ≤ 2 MB, ≥ ×10 MLflow"
    fits = r["median_ms"] <= 300 and r["bytes"] <= 2e6
    if not ml:
        return [Row("compare", what, mine, "MLflow venv absent", target=target, ok=fits)]
    rows = []
    for name, m in ml["reads"].items():
        ratio = m["median_ms"] / r["median_ms"]
        rows.append(
            Row(
                "compare",
                f"{what} vs MLflow {name}",
                mine,
                f"{m['median_ms']:.0f} ms, {m['bytes'] / 1e6:.2f} MB ({m.get('calls', '?')} calls)",
                f"×{ratio:.1f} faster, ×{m['bytes'] / r['bytes']:.1f} smaller",
                target,
                fits and ratio >= 10,
            )
        )
    return rows


def browser_rows(br: dict, db: dict) -> list[Row]:
    listing, compare = db.get("listing", {}), db.get("compare") or {}
    if not br or "skipped" in br:
        return [Row("browser", "pages in Chromium", f"skipped: {(br or {}).get('skipped', 'failed')}")]
    rows = []
    for label, r in br.items():
        if label.startswith("experiment"):
            what = f"{listing['runs_big']:,} runs"
        elif label.startswith("dashboard"):
            what = f"a team of {listing['runs_big'] + listing['runs_small']:,} runs"
        else:
            what = f"{compare.get('runs')} runs × {compare.get('steps', 0):,} steps × 2 metrics"
        rows.append(
            Row(
                "browser",
                f"{label} with {what}, cold cache: navigation to drawn (median; best)",
                f"{r['median_s']:.2f} s; {r['best_s']:.2f} s, {r['bytes'] / 1e6:.2f} MB, {r['requests']} requests; "
                f"returning visit {r['warm_median_s']:.2f} s; without a DevTools client {r['no_devtools_median_s']:.2f} s",
                "MLflow UI: 4.4 s, 15.7 MB (50 runs × 2,000 steps, anchor)" if "compare" in label else "",
                "",
                "≤ 2 s",
                r["median_s"] <= 2,
            )
        )
        if "compare" in label and r.get("phases_ms"):
            phases = ", ".join(f"{name.removeprefix('compare: ')} {ms:.0f}" for name, ms in r["phases_ms"].items())
            rows.append(
                Row(
                    "browser",
                    f"{label}, where the cold load's time goes (median ms from navigation)",
                    f"{phases} (load {r.get('load', '?')})",
                )
            )
    return rows


def format_table(rows: list[Row], markdown: bool = False) -> str:
    head = ("area", "figure", "LossLab", "baseline", "ratio", "target", "")
    cells = [head] + [(r.area, r.figure, r.losslab, r.baseline, r.ratio, r.target, r.mark) for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head[:-1]) + " | met |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in cells[1:]]
        return "\n".join(lines)
    widths = [min(72, max(len(row[i]) for row in cells)) for i in range(len(head))]
    out = []
    for row in cells:
        out.append("  ".join(c.ljust(w) if len(c) <= w else c for c, w in zip(row, widths)).rstrip())
    return "\n".join(out)
