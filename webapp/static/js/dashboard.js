// Team dashboard: renders the embedded data, then polls /api/dashboard and re-renders without a reload.
(function () {
  "use strict";
  const root = document.getElementById("dashboard");
  const initial = document.getElementById("dashboard-data");
  if (!root || !initial) return;

  // Build DOM nodes, never HTML strings: names come from users.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v == null) return;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    });
    children.flat().forEach((c) => node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c))));
    return node;
  }
  const link = (href, text) => el("a", {href: href, text: text});
  const status = (s) => el("span", {class: "status status-" + s, text: s});
  const verdict = (v) => window.LossLab.verdictChip(v) || "–";
  const label = {val_accuracy: "acc", val_r2: "R²", val_rmse: "rmse", val_loss: "val loss"};
  const metric = (m) => (m ? label[m.key] + " " + Number(m.value).toFixed(m.key === "val_loss" ? 4 : 3) : "–");

  function table(head, rows) {
    return el("table", {class: "table"}, el("thead", {}, el("tr", {}, head.map((h) => el("th", {text: h})))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
  }
  function empty(text) { return el("p", {class: "empty", text: text}); }

  function live(runs) {
    if (!runs.length) return empty("Nothing is training or waiting. Launch a run from an experiment.");
    return table(["Run", "Experiment", "Status", "Progress", "Diagnosis so far"], runs.map((r) => [
      link(r.url, r.name), link(r.experiment_url, r.experiment),
      [status(r.status), r.queue_position ? el("span", {class: "muted small", text: " #" + r.queue_position + " in queue"}) : ""],
      [el("progress", {max: "1", value: String(r.progress)}), el("span", {class: "small", text: " " + r.epoch + "/" + r.epochs})],
      verdict(r.verdict)]));
  }
  function experiments(exps) {
    if (!exps.length) return empty("No experiments yet. Create one to start launching runs.");
    return table(["Experiment", "Runs", "Training / waiting", "Leader", "Best val metric"], exps.map((e) => [
      link(e.url, e.name), String(e.runs), e.running + " / " + e.queued,
      e.leader ? link(e.leader.url, e.leader.name) : el("span", {class: "muted", text: "no finished run yet"}),
      metric(e.leader)]));
  }
  function recent(runs) {
    if (!runs.length) return empty("No finished runs yet: results appear here as runs end.");
    return table(["Run", "Experiment", "Status", "Best val metric", "Diagnosis", "Finished"], runs.map((r) => [
      link(r.url, r.name), link(r.experiment_url, r.experiment), status(r.status), metric(r.best), verdict(r.verdict),
      el("span", {class: "small"}, LossLab.when(r.finished_at) || "")]));
  }
  function saved(views) {
    if (!views.length) return empty("No saved comparisons yet. Save one from an experiment's compare page.");
    return el("ul", {}, views.map((v) => el("li", {}, [link(v.url, v.name), el("span", {class: "muted small", text: " · " + v.experiment})])));
  }

  function render(data) {
    const put = (name, node) => root.querySelector('[data-section="' + name + '"]').replaceChildren(node);
    put("live", live(data.live));
    put("experiments", experiments(data.experiments));
    put("recent", recent(data.recent));
    put("saved", saved(data.saved_comparisons));
    return data.live.length > 0;
  }

  // Every 2 s while something trains or waits, every 8 s when nothing does (a new run may still appear).
  const BUSY = 2000, IDLE = 8000;
  const poll = async () => (render(await window.LossLab.getJSON(root.dataset.api)) ? "busy" : "idle");
  const busy = render(JSON.parse(initial.textContent));
  window.LossLab.poll(poll, {every: BUSY, idle: IDLE, first: busy ? BUSY : IDLE});
})();
