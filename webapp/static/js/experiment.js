// Experiment page: refreshes status, progress, best metrics and verdict of each run in the table.
(function () {
  "use strict";
  const table = document.getElementById("runs");
  if (!table) return;
  const url = "/api/runs?limit=500&experiment=" + table.dataset.experiment;
  const done = ["succeeded", "failed", "diverged", "cancelled"];
  const fmt = (v, d) => (v == null ? "–" : Number(v).toFixed(d));

  function update(run) {
    const row = table.querySelector('tr[data-run="' + run.id + '"]');
    if (!row) return false;
    const f = (name) => row.querySelector('[data-field="' + name + '"]');
    f("status").textContent = run.status;
    f("status").className = "status status-" + run.status;
    const q = f("queue"); if (q) q.textContent = window.LossLab.queuePlace(run);
    f("progress").value = run.progress;
    f("epochs").textContent = run.epoch + "/" + run.epochs;
    const best = (run.summary || {}).best || {};
    f("best_val_loss").textContent = fmt(best.val_loss, 4);
    f("best_metric").textContent = best.val_accuracy != null ? "acc " + fmt(best.val_accuracy, 3)
                                  : best.val_rmse != null ? "rmse " + fmt(best.val_rmse, 3) : "–";
    f("verdict").innerHTML = run.verdict ? '<span class="verdict verdict-' + run.verdict + '">' + run.verdict.replace("_", " ") + "</span>" : "";
    return !done.includes(run.status);
  }

  async function poll() {
    let live = false;
    try {
      const runs = await (await fetch(url, {credentials: "same-origin"})).json();
      runs.forEach((r) => { if (update(r)) live = true; });
    } catch (e) { live = true; }
    setTimeout(poll, live ? 1500 : 10000);
  }
  poll();
})();
