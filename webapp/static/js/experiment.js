// Experiment page: refreshes status, progress, best metrics and verdict of each run in the table.
(function () {
  "use strict";
  const table = document.getElementById("runs");
  if (!table) return;
  const url = "/api/runs?limit=1000&experiment=" + table.dataset.experiment + "&ids=";
  const fmt = (v, d) => (v == null ? "–" : Number(v).toFixed(d));

  function update(run) {
    const row = table.querySelector('tr[data-run="' + run.id + '"]');
    if (!row) return;
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
    f("verdict").replaceChildren(window.LossLab.verdictChip(run.verdict) || "");
  }

  // Only the rows still queued or running are asked for: a page of finished runs costs no polling.
  const unfinished = () => [...table.querySelectorAll("tbody tr[data-run]")]
    .filter((tr) => !window.LossLab.isFinished(tr.querySelector('[data-field="status"]').textContent.trim()))
    .map((tr) => tr.dataset.run);

  // Returns false once every row on the page has finished: polling stops.
  async function poll() {
    const ids = unfinished();
    if (!ids.length) return false;
    (await window.LossLab.getJSON(url + ids.join(","))).forEach(update);
    return unfinished().length > 0;
  }
  window.LossLab.poll(poll, {every: 1500});
})();
