// Sweep form: shows how many runs the grid launches before it is submitted, and refuses over the cap.
(function () {
  "use strict";
  const form = document.getElementById("sweep-form");
  if (!form) return;
  const max = Number(form.dataset.max);

  function countOf(fieldset) {
    const boxes = fieldset.querySelectorAll("input[type=checkbox]");
    if (boxes.length) return [...boxes].filter((b) => b.checked).length;
    const input = fieldset.querySelector("input[type=text], input:not([type])");
    if (!input || !input.value.trim()) return 0;
    const sep = fieldset.dataset.factor === "hidden" ? "|" : ",";
    return input.value.split(sep).filter((p) => p.trim()).length;
  }

  function update() {
    const seeds = Math.max(Number(form.elements.seeds.value) || 0, 0);
    const parts = [];
    let total = seeds;
    form.querySelectorAll("fieldset.factor").forEach((fs) => {
      const n = countOf(fs);
      if (n > 1) parts.push(n + " " + fs.dataset.factor);
      total *= Math.max(n, 1);
    });
    document.getElementById("sweep-count").textContent = total;
    document.getElementById("sweep-formula").textContent = "= " + (parts.length ? parts.join(" × ") + " × " : "") + seeds + " seeds";
    const over = total > max || total < 1;
    document.getElementById("sweep-over").hidden = total <= max;
    document.getElementById("sweep-submit").disabled = over;
  }
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();
