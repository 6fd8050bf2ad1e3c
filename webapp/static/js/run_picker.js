// Run picker (experiment and compare pages): filter rows by text, select the shown ones, count the choice.
(function () {
  "use strict";
  document.querySelectorAll(".run-picker").forEach((form) => {
    const rows = [...form.querySelectorAll("tbody tr")];
    const boxes = () => [...form.querySelectorAll('input[name="runs"]')];
    const count = form.querySelector(".picker-count");
    const submit = form.querySelector(".picker-submit");
    function update() {
      const n = boxes().filter((b) => b.checked).length;
      if (count) count.textContent = n ? n + " selected" : "tick at least one run";
      if (submit) submit.disabled = n === 0;
    }
    const filter = form.querySelector(".picker-filter");
    if (filter) filter.addEventListener("input", () => {
      const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      rows.forEach((tr) => {
        const text = tr.dataset.text || tr.textContent.toLowerCase();
        tr.hidden = !words.every((w) => text.includes(w));
      });
    });
    const all = form.querySelector(".picker-all");
    if (all) all.addEventListener("click", () => {
      rows.forEach((tr) => { if (!tr.hidden) tr.querySelectorAll('input[name="runs"]').forEach((b) => { b.checked = true; }); });
      update();
    });
    const none = form.querySelector(".picker-none");
    if (none) none.addEventListener("click", () => { boxes().forEach((b) => { b.checked = false; }); update(); });
    form.addEventListener("change", update);
    update();
  });
})();
