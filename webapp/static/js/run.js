// Run page: polls the run's status and only the new metric points, and redraws the charts.
(function () {
  "use strict";
  const root = document.getElementById("run");
  if (!root) return;
  const runUrl = root.dataset.api, metricsUrl = root.dataset.metrics;
  const series = {};           // key -> {step: [], value: [], time: []}
  let lastStep = -1, drawn = false;
  const task = root.dataset.task;
  // Titles are HTML headings above each chart; the legend sits above the plot, right-aligned, where it
  // cannot meet the x-axis title or the tick labels.
  const layoutBase = {margin: {t: 28, r: 16, b: 44, l: 60}, height: 280, font: {size: 12},
                      legend: {orientation: "h", x: 1, xanchor: "right", y: 1.02, yanchor: "bottom"},
                      paper_bgcolor: "rgba(0,0,0,0)"};
  // Log scale when the positive values of a chart span several decades (a run blowing up to 1e37).
  function spansDecades(traces, ratio = 1e3) {
    const ys = traces.flatMap((t) => t.y).filter((v) => v > 0 && isFinite(v));
    return ys.length > 1 && Math.max(...ys) / Math.min(...ys) >= ratio;
  }
  // On a log axis, labels at powers of ten (at most about six of them) once the values span two decades;
  // closer, Plotly's own ticks.
  function logAxis(traces) {
    const ys = traces.flatMap((t) => t.y).filter((v) => v > 0 && isFinite(v));
    const decades = ys.length > 1 ? Math.log10(Math.max(...ys) / Math.min(...ys)) : 0;
    return decades >= 2 ? {type: "log", exponentformat: "power", dtick: Math.ceil(decades / 6)}
                        : {type: "log", exponentformat: "power"};
  }
  // Whole epochs on the x axis, about ten labels at most.
  function epochAxis() {
    const n = series["epoch"] ? series["epoch"].value.length : 1;
    return {title: {text: "epoch"}, dtick: Math.max(1, Math.ceil(n / 10)), automargin: true};
  }
  function yaxis(traces) {
    return spansDecades(traces) ? logAxis(traces) : {};
  }

  function field(name) { return document.querySelector('[data-field="' + name + '"]'); }
  function fmtSeconds(s) {
    if (s == null || !isFinite(s)) return "";
    s = Math.round(s);
    const m = Math.floor(s / 60), h = Math.floor(m / 60);
    return h ? h + "h " + (m % 60) + "m" : m ? m + "m " + (s % 60) + "s" : s + "s";
  }

  function merge(incoming) {
    for (const [key, s] of Object.entries(incoming)) {
      const cur = series[key] || (series[key] = {step: [], value: [], time: []});
      for (let i = 0; i < s.step.length; i++) {
        if (cur.step.length && s.step[i] <= cur.step[cur.step.length - 1]) continue;  // never duplicate a step
        cur.step.push(s.step[i]); cur.value.push(s.value[i]); cur.time.push(s.time[i]);
      }
    }
  }

  function byEpoch(key) {
    const s = series[key], ep = series["epoch"];
    if (!s || !ep) return null;
    const epochAt = new Map(ep.step.map((st, i) => [st, ep.value[i]]));
    const x = [], y = [];
    s.step.forEach((st, i) => { if (epochAt.has(st)) { x.push(epochAt.get(st)); y.push(s.value[i]); } });
    return {x, y};
  }

  function trace(key, name) {
    const d = byEpoch(key);
    return d ? {x: d.x, y: d.y, name: name || key, mode: "lines+markers", type: "scatter"} : null;
  }

  function markers(diag) {
    const shapes = [], annotations = [];
    const ev = (diag && diag.evidence) || {};
    // Labels sit right of their line, the second one higher: near epochs must not print over each other.
    const add = (x, text, color, y) => {
      if (!x) return;
      shapes.push({type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: {dash: "dot", color}});
      annotations.push({x, yref: "paper", y, yanchor: "top", xanchor: "left", text, showarrow: false, font: {color, size: 11},
                        bgcolor: "rgba(255,255,255,0.8)"});
    };
    add(ev.best_epoch, "best epoch " + ev.best_epoch, "#2a7", 0.98);
    add(ev.overfit_onset_epoch, "overfitting starts", "#c60", 0.86);
    return {shapes, annotations};
  }

  // The diagnosis's evidence, in words: what the verdict rests on.
  const EVIDENCE = [
    ["reason", "why", (v) => v],
    ["best_epoch", "best epoch", (v) => v],
    ["overfit_onset_epoch", "overfitting from epoch", (v) => v],
    ["generalization_loss", "val loss above its best, last epoch (GL)", (v) => v.toFixed(1) + " %"],
    ["train_val_gap", "train–val gap", (v) => v.toPrecision(3)],
    ["relative_to_baseline", "val loss / trivial predictor's", (v) => (100 * v).toFixed(0) + " %"],
  ];
  function evidenceList(ev) {
    const dl = document.createElement("dl");
    dl.className = "evidence";
    EVIDENCE.forEach(([key, label, show]) => {
      const v = ev[key];
      if (v == null || v === "") return;
      const dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = label; dd.textContent = typeof v === "number" || typeof v === "string" ? show(v) : String(v);
      dl.append(dt, dd);
    });
    return dl;
  }

  let diagnosis = null;
  // Before the first epoch there is nothing to draw: a waiting note instead of four empty, made-up axes.
  function hasEpochs() { return !!(series["epoch"] && series["epoch"].step.length); }
  function draw() {
    const waiting = !hasEpochs();
    field("waiting").hidden = !waiting;
    field("charts").hidden = waiting;
    if (waiting) return;
    const loss = [trace("train_loss", "train loss"), trace("val_loss", "val loss")].filter(Boolean);
    const m = markers(diagnosis);
    Plotly.react("chart-loss", loss, {...layoutBase, showlegend: true, xaxis: epochAxis(), yaxis: yaxis(loss),
                                      shapes: m.shapes, annotations: m.annotations});
    const metricKeys = task === "regression" ? [["val_rmse", "val RMSE"], ["val_r2", "val R²"]]
                                             : [["train_accuracy", "train accuracy"], ["val_accuracy", "val accuracy"]];
    // Accuracy on its whole 0–1 range: a flat 0.3 is not drawn as a fluctuation. RMSE is in the target's
    // units and R² at most 1: each on its own axis.
    const metric = metricKeys.map(([k, n]) => trace(k, n)).filter(Boolean);
    const metricLayout = {...layoutBase, showlegend: true, xaxis: epochAxis(), yaxis: {range: [0, 1.02]}};
    if (task === "regression") {
      metric.forEach((t) => { if (t.name.includes("R²")) t.yaxis = "y2"; });
      Object.assign(metricLayout, {yaxis: {title: {text: "RMSE"}, rangemode: "tozero"}, margin: {...layoutBase.margin, r: 56},
                                   yaxis2: {title: {text: "R²"}, overlaying: "y", side: "right", showgrid: false}});
    }
    Plotly.react("chart-metric", metric, metricLayout);
    // A run that logs no learning rate (an imported history) gets no empty chart; a schedule spanning a decade or
    // more is drawn on a log scale, a constant rate on a plain one.
    const lr = trace("lr", "learning rate"), lrChart = document.getElementById("chart-lr");
    lrChart.hidden = !lr;
    field("lr-card").hidden = !lr;
    if (lr) {
      Plotly.react(lrChart, [lr], {...layoutBase, showlegend: false, xaxis: epochAxis(),
                                   yaxis: spansDecades([lr], 10) ? logAxis([lr]) : {range: [0, 1.2 * Math.max(...lr.y)]}});
    }
    // Plotly.react only redraws arrays it has not seen: pass copies, not the arrays merge() grows.
    const st = series["train_loss_step"];
    const steps = st ? [{x: st.step.slice(), y: st.value.slice(), name: "train loss (sampled steps)", mode: "lines"}] : [];
    const ya = yaxis(steps);
    field("step-scale").textContent = ya.type === "log" ? "(log scale: the values span several decades)" : "";
    Plotly.react("chart-step", steps, {...layoutBase, showlegend: false, xaxis: {title: {text: "step"}}, yaxis: ya});
  }

  // One sentence that follows the status: a finished run never keeps its "queued" banner.
  function banner(run) {
    switch (run.status) {
      case "queued": return "Queued: it starts when a worker is free.";
      case "running": return run.epoch ? "Training: epoch " + run.epoch + " of " + run.epochs + " done."
                                       : "Training has started; the first epoch is under way.";
      case "succeeded": return "Finished: " + run.epoch + " of " + run.epochs + " epochs trained.";
      case "diverged": return "Diverged: the loss became non-finite or grew without bound, so training stopped.";
      case "failed": return "Failed: see the error below.";
      case "cancelled": return "Cancelled; the curves recorded until then are kept.";
      case "lost": return "Its worker stopped answering: the run is requeued and resumes from its last checkpoint.";
      default: return run.status;
    }
  }

  function showRun(run) {
    const status = field("status");
    status.textContent = run.status;
    status.className = "status status-" + run.status;
    field("progress").value = run.progress;
    field("epochs").textContent = "epoch " + run.epoch + " of " + run.epochs;
    field("queue").textContent = window.LossLab.queuePlace(run);
    const started = run.started_at ? new Date(run.started_at) : null;
    const end = run.finished_at ? new Date(run.finished_at) : new Date();
    field("elapsed").textContent = started ? "elapsed " + fmtSeconds((end - started) / 1000) : "";
    field("eta").textContent = run.eta_seconds != null ? "· about " + fmtSeconds(run.eta_seconds) + " left"
                             : run.status === "running" ? "· time left known after the first epoch" : "";
    const b = field("banner");
    b.textContent = banner(run);
    b.className = "banner banner-" + run.status;
    field("placement").textContent = "attempt " + run.attempt + (run.worker ? " · worker " + run.worker : "");
    // A diverged run's verdict repeats its status: one chip is enough.
    field("verdict").replaceChildren((run.verdict !== run.status && window.LossLab.verdictChip(run.verdict)) || "");
    const err = field("error");
    err.hidden = !run.error; err.textContent = run.error;
    diagnosis = (run.summary || {}).diagnosis || null;
    const box = field("diagnosis");
    box.innerHTML = "";
    if (diagnosis) box.appendChild(evidenceList(diagnosis.evidence || {}));
    if (diagnosis && diagnosis.suggestions && diagnosis.suggestions.length) {
      const ul = document.createElement("ul");
      diagnosis.suggestions.forEach((s) => { const li = document.createElement("li"); li.textContent = s; ul.appendChild(li); });
      box.appendChild(ul);
    }
    const finished = window.LossLab.isFinished(run.status);
    const cancel = document.getElementById("cancel-form");
    if (cancel && finished) cancel.hidden = true;
    return !finished;
  }

  // Returns false once the run has finished: its page then stops polling.
  async function poll() {
    const run = await window.LossLab.getJSON(runUrl);
    const m = await window.LossLab.getJSON(metricsUrl + "?since_step=" + lastStep);
    merge(m.series);
    const before = lastStep, verdictBefore = JSON.stringify(diagnosis);
    if (m.last_step != null) lastStep = Math.max(lastStep, m.last_step);
    // Status after the curves: a run never shows "succeeded" while its last epoch is still undrawn.
    const live = showRun(run);
    // Redraw only when there is something new: four Plotly charts every second cost a busy laptop.
    if (!drawn || lastStep !== before || JSON.stringify(diagnosis) !== verdictBefore) { draw(); drawn = true; }
    return live;
  }
  window.LossLab.poll(poll, {every: 1000});
})();
