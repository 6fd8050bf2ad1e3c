// Compare page: fetches the chosen runs' downsampled series and draws them overlaid, plus a
// parallel-coordinates plot of their config choices against a metric. Smoothing and log scale
// redraw in the browser; metric keys and the x axis refetch from the server.
(function () {
  "use strict";
  const root = document.getElementById("compare");
  if (!root) return;
  const opts = JSON.parse(document.getElementById("compare-options").textContent);
  const PALETTE = ["#3454d1", "#d1495b", "#2a9d8f", "#e9a23b", "#7b3fb0", "#1b998b", "#ef6f6c", "#5c6b73",
                   "#8ac926", "#ff595e", "#1982c4", "#6a4c93"];
  const DASH = ["solid", "dash", "dot", "dashdot", "longdash"];
  const X_TITLE = {step: "step", epoch: "epoch", time: "wall time (s)"};
  let data = null;
  // This script runs before plotly.min.js (see compare.html): the series download while the browser
  // parses Plotly's 4.8 MB, and the curves are drawn once both are there.
  // The User Timing marks ("compare: ...") let DevTools and bench/browser.py break the load down.
  const plotlyReady = new Promise((resolve) => {
    if (window.Plotly) resolve(); else window.addEventListener("load", resolve, {once: true});
  }).then(() => performance.mark("compare: plotly ready"));
  // Points per curve: 500 for a few runs, fewer for many, about 50,000 in all: what a chart can show,
  // and what SVG draws in about a second (beyond that compare.js falls back to WebGL).
  const POINT_BUDGET = 50000;
  const perCurve = () => Math.max(100, Math.min(500, Math.floor(POINT_BUDGET / Math.max(1,
    root.dataset.runs.split(",").length * opts.keys.length || 2))));

  const $ = (id) => document.getElementById(id);

  function ema(y, alpha) {
    if (alpha <= 0) return y;
    const out = new Array(y.length);
    let s = null;
    for (let i = 0; i < y.length; i++) {
      const v = y[i];
      if (v == null || !isFinite(v)) { out[i] = v; continue; }  // a NaN marker stays visible, never poisons
      s = s == null ? v : alpha * s + (1 - alpha) * v;
      out[i] = s;
    }
    return out;
  }

  function fmt(v) {
    if (Array.isArray(v)) return v.join("-");
    if (typeof v === "number") return Number(v.toPrecision(4)).toString();
    return String(v);
  }

  function hoverText(run) {
    const parts = Object.entries(run.config).filter(([k]) => k !== "seed").map(([k, v]) => k + "=" + fmt(v));
    return "<b>" + run.name + "</b><br>loss: " + run.loss + " · seed " + run.seed +
           (run.verdict ? " · " + window.LossLab.verdictLabel(run.verdict) : "") + (parts.length ? "<br>" + parts.join("<br>") : "");
  }

  // The legend lists one entry per curve while that stays readable; beyond, it is hidden.
  const LEGEND_MAX = 24;

  function curve(run, i, key, k) {
    const s = (data.series[run.id] || {})[key];
    return s && {x: s.x, y: ema(s.y, opts.smoothing), color: PALETTE[i % PALETTE.length], dash: DASH[k % DASH.length]};
  }

  // One trace per run and metric, named in the legend.
  function tracePerCurve() {
    const out = [];
    data.runs.forEach((run, i) => data.keys.forEach((key, k) => {
      const c = curve(run, i, key, k);
      if (!c) return;
      out.push({
        x: c.x, y: c.y, name: run.name + " · " + key, legendgroup: String(run.id),
        mode: "lines", line: {color: c.color, dash: c.dash, width: 1.5}, connectgaps: false,
        hovertemplate: hoverText(run) + "<br>" + key + ": %{y:.5g}<br>" + X_TITLE[data.x] + ": %{x}<extra></extra>",
      });
    }));
    return out;
  }

  // Many curves: a metric's curves of the runs that share a colour (the palette repeats past 12 runs)
  // become one trace, separated by gaps, each point carrying its run's hover text. Plotly's cost grows
  // with the number of traces (defaults, styling, an SVG group each): 100 runs × 2 metrics took about
  // 1.5 times as long to draw as 200 traces as merged into 24.
  function tracePerStyle() {
    const groups = new Map();
    data.runs.forEach((run, i) => data.keys.forEach((key, k) => {
      const c = curve(run, i, key, k);
      if (!c) return;
      const id = c.color + " " + key;
      let t = groups.get(id);
      if (!t) {
        t = {x: [], y: [], text: [], runs: 0, key, mode: "lines", line: {color: c.color, dash: c.dash, width: 1.5},
             connectgaps: false, hovertemplate: "%{text}<br>" + key + ": %{y:.5g}<br>" + X_TITLE[data.x] + ": %{x}<extra></extra>"};
        groups.set(id, t);
      } else {
        t.x.push(null); t.y.push(null); t.text.push("");
      }
      const text = hoverText(run);
      for (let j = 0; j < c.x.length; j++) { t.x.push(c.x[j]); t.y.push(c.y[j]); t.text.push(text); }
      t.runs += 1;
    }));
    return [...groups.values()].map(({runs, key, ...t}) => ({...t, name: runs + " runs · " + key}));
  }

  const pointCount = () => Object.values(data.series).reduce(
    (n, byKey) => n + Object.values(byKey).reduce((m, s) => m + s.x.length, 0), 0);

  function curveCount() {
    return data.runs.reduce((n, run) => n + data.keys.filter((key) => (data.series[run.id] || {})[key]).length, 0);
  }

  function traces() {
    const out = curveCount() <= LEGEND_MAX ? tracePerCurve() : tracePerStyle();
    // Beyond ~50k points SVG gets slow: switch to WebGL.
    if (pointCount() > 50000) out.forEach((t) => { t.type = "scattergl"; });
    return out;
  }

  // Log scale: labels at powers of ten (at most about eight) once the values span more than a decade (Plotly's default
  // labels 2 and 5 of every decade too, which crowds the axis); closer values keep Plotly's own ticks.
  function logAxis() {
    const ys = Object.values(data.series).flatMap((byKey) => data.keys.flatMap((k) => (byKey[k] || {}).y || []))
      .filter((v) => v > 0 && isFinite(v));
    const decades = ys.length ? Math.log10(Math.max(...ys) / Math.min(...ys)) : 0;
    return decades > 1 ? {type: "log", dtick: Math.ceil(decades / 8), exponentformat: "power"} : {type: "log", dtick: "D2"};
  }

  function drawCurves() {
    // The legend goes above the plot, the axis titles stay beside their axes: they never meet.
    const layout = {
      margin: {t: 16, r: 16, b: 50, l: 64}, height: 460, font: {size: 12}, paper_bgcolor: "rgba(0,0,0,0)",
      xaxis: {title: {text: X_TITLE[data.x]}, automargin: true},
      yaxis: {title: {text: data.keys.join(", ")}, automargin: true, ...(opts.log ? logAxis() : {type: "linear"})},
      legend: {orientation: "h", x: 0, y: 1.02, yanchor: "bottom"}, hovermode: "closest", showlegend: curveCount() <= LEGEND_MAX,
    };
    Plotly.react("chart-compare", traces(), layout, {responsive: true});
  }

  function metricChoices() {
    const keys = new Set();
    data.runs.forEach((r) => Object.keys(r.best).forEach((k) => keys.add(k)));
    return [...keys].sort();
  }

  function drawParcoords() {
    const sel = $("pc-metric");
    const choices = metricChoices();
    if (!sel.options.length) {
      const preferred = (data.mixed_losses && data.shared_metrics[0]) || "val_loss";
      choices.forEach((k) => sel.add(new Option("best " + k, k, false, k === preferred)));
    }
    const metric = sel.value;
    const fields = data.config_diff.map((row) => row.field).filter((f) => f !== "seed");
    const dims = fields.map((f) => {
      const vals = data.runs.map((r) => r.config[f]);
      if (vals.every((v) => typeof v === "number")) return {label: f, values: vals};
      const cats = [...new Set(vals.map(fmt))];
      return {label: f, values: vals.map((v) => cats.indexOf(fmt(v))), tickvals: cats.map((_, i) => i), ticktext: cats};
    });
    const y = data.runs.map((r) => (r.best[metric] == null ? null : r.best[metric]));
    if (!metric || !y.some((v) => v != null)) {
      $("chart-parcoords").innerHTML = '<p class="empty">No finished metric to plot yet.</p>';
      return;
    }
    dims.push({label: "best " + metric, values: y});
    const reversed = !(data.higher_is_better || []).includes(metric);
    // Readable at 20 runs: short axis labels, tilted when there are many axes, and no colour bar (the
    // last axis is the metric the colour shows, labelled already).
    const box = $("chart-parcoords").getBoundingClientRect();
    const tilt = dims.length > 3 || box.width / dims.length < 120;
    dims.forEach((d) => { d.label = shortField(d.label); });
    Plotly.react("chart-parcoords", [{
      type: "parcoords", dimensions: dims, labelangle: tilt ? -20 : 0, labelside: "top",
      line: {color: y, colorscale: "Viridis", reversescale: reversed, showscale: false},
    }], {margin: {t: tilt ? 70 : 50, r: 50, b: 30, l: 50}, height: 380, paper_bgcolor: "rgba(0,0,0,0)", font: {size: 11}},
    {responsive: true});
  }

  // The parallel-coordinates plot sits below the fold: drawn when it scrolls into view, not at load.
  let pcMounted = false;
  let pcObserver = null;
  function mountParcoords() {
    if (pcMounted) { drawParcoords(); return; }
    if (!("IntersectionObserver" in window)) { pcMounted = true; drawParcoords(); return; }
    if (pcObserver) return;
    pcObserver = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting)) return;
      pcObserver.disconnect();
      pcMounted = true;
      drawParcoords();
      performance.mark("compare: parallel coordinates drawn");
    }, {rootMargin: "200px"});
    pcObserver.observe($("chart-parcoords"));
  }

  // "optimizer.lr" -> "lr", "model.hidden" -> "hidden", "dataset.name" -> "dataset": what fits under an axis.
  function shortField(f) {
    const parts = f.split(".");
    const last = parts[parts.length - 1];
    return last === "name" && parts.length > 1 ? parts[parts.length - 2] : last;
  }

  // The picker groups what people compare (losses, quality metrics) apart from the training-health
  // series a run also logs (gradient norms, flags, the learning rate, baselines), which wait under "more".
  function keyGroup(k) {
    if (k.includes("/") || k.startsWith("grad") || k.startsWith("baseline") || k === "lr" || k.endsWith("_time")) return "health";
    return k.includes("loss") ? "losses" : "quality";
  }
  const GROUPS = [["losses", "Losses"], ["quality", "Quality metrics"], ["health", "Training health"]];

  function keyChoices() {
    const box = $("key-choices");
    const keys = [...new Set([...data.available_keys.filter((k) => k !== "epoch"), ...data.keys])].sort();
    box.innerHTML = "";
    box.className = "key-groups";
    GROUPS.forEach(([group, title]) => {
      const mine = keys.filter((k) => keyGroup(k) === group);
      if (!mine.length) return;
      const holder = group === "health" ? document.createElement("details") : document.createElement("div");
      holder.className = "key-group";
      holder.dataset.group = group;
      const head = document.createElement(group === "health" ? "summary" : "span");
      head.className = "key-group-title";
      head.textContent = group === "health" ? "more: " + title.toLowerCase() + " (" + mine.length + ")" : title;
      holder.appendChild(head);
      if (group === "health" && mine.some((k) => data.keys.includes(k))) holder.open = true;
      mine.forEach((k) => {
        const label = document.createElement("label");
        label.className = "check";
        const input = document.createElement("input");
        input.type = "checkbox"; input.value = k; input.checked = data.keys.includes(k);
        const shared = (data.shared_metrics || []).includes(k);
        label.append(input, " " + k + (shared ? " (shared)" : ""));
        holder.appendChild(label);
      });
      box.appendChild(holder);
    });
  }

  function syncShareable() {
    const form = document.getElementById("save-form");
    if (form) {
      form.elements.x.value = opts.x; form.elements.keys.value = opts.keys.join(",");
      form.elements.smoothing.value = opts.smoothing; form.elements.log.value = opts.log ? "on" : "";
    }
    const q = new URLSearchParams({runs: root.dataset.runs, keys: opts.keys.join(","), x: opts.x,
                                   smoothing: opts.smoothing, log: opts.log ? "1" : "0"});
    if (!root.dataset.saved) history.replaceState(null, "", location.pathname + "?" + q.toString());
  }

  async function load() {
    const q = new URLSearchParams({runs: root.dataset.runs, keys: opts.keys.join(","), x: opts.x,
                                   max_points: perCurve()});
    const t0 = performance.now();
    const resp = await fetch(root.dataset.api + "?" + q.toString(), {credentials: "same-origin"});
    const body = await resp.json();
    if (!resp.ok) { $("compare-meta").textContent = body.detail || "Could not load the series."; return; }
    data = body;
    performance.mark("compare: series fetched");
    await plotlyReady;
    keyChoices();
    drawCurves();
    performance.mark("compare: curves drawn");
    $("compare-meta").textContent = data.runs.length + " runs · " + pointCount() + " points drawn (min/max per bucket, at most " +
      data.max_points + " per curve) · loaded in " + Math.round(performance.now() - t0) + " ms";
    syncShareable();
    // The curves reach the screen first; then the parallel-coordinates plot (WebGL, which a machine
    // without a GPU emulates slowly) when it is in view.
    requestAnimationFrame(() => setTimeout(mountParcoords, 0));
  }

  $("x-axis").value = opts.x;
  $("smoothing").value = opts.smoothing; $("smoothing-out").textContent = opts.smoothing;
  $("log-scale").checked = !!opts.log;
  $("x-axis").addEventListener("change", (e) => { opts.x = e.target.value; load(); });
  $("smoothing").addEventListener("input", (e) => {
    opts.smoothing = Number(e.target.value); $("smoothing-out").textContent = e.target.value;
    if (data) { drawCurves(); syncShareable(); }
  });
  $("log-scale").addEventListener("change", (e) => { opts.log = e.target.checked; if (data) { drawCurves(); syncShareable(); } });
  $("key-choices").addEventListener("change", () => {
    const chosen = [...document.querySelectorAll("#key-choices input:checked")].map((i) => i.value);
    if (!chosen.length) return;
    opts.keys = chosen; load();
  });
  $("pc-metric").addEventListener("change", () => { if (pcMounted) drawParcoords(); });
  load();
})();
