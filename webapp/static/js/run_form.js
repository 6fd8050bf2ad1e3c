// Launch form: show only the settings that apply, mark what differs from the preset, hint at bounds in
// the schema's words, bring a refused submit's error summary into view, and offer an upload's columns.
(function () {
  "use strict";
  const form = document.getElementById("launch-form");
  if (!form) return;
  const inputs = [...form.querySelectorAll("input[name], select[name]")];
  const byName = Object.fromEntries(inputs.map((el) => [el.name, el]));
  const wrapper = (el) => el.closest(".field");

  function value(el) { return el.type === "checkbox" ? String(el.checked) : el.value; }

  // A field the chosen options ignore is hidden; one with an error always shows.
  function disclose() {
    inputs.forEach((el) => {
      if (!el.dataset.when) return;
      const control = byName[el.dataset.when];
      const applies = !control || el.dataset.in.split(" ").includes(control.value);
      wrapper(el).hidden = !applies && !wrapper(el).classList.contains("has-error");
    });
    form.querySelectorAll("fieldset[data-section]").forEach((fs) => {
      fs.hidden = ![...fs.querySelectorAll(".field")].some((f) => !f.hidden);
    });
  }

  // Options the schema refuses with the chosen dataset (cross-entropy on a regression target, a cnn on
  // tabular data) are disabled; a chosen one that no longer fits moves to the first that does.
  function fitDataset() {
    const dataset = byName["dataset__name"];
    inputs.forEach((el) => {
      if (!el.dataset.fitsDataset || !dataset) return;
      const fits = JSON.parse(el.dataset.fitsDataset)[dataset.value];
      if (!fits) return;
      [...el.options].forEach((o) => {
        o.disabled = !fits.includes(o.value);
        o.title = o.disabled ? "does not fit dataset " + dataset.value : "";
      });
      if (el.selectedOptions[0] && el.selectedOptions[0].disabled && fits.length) {
        el.value = fits[0];
        choiceHelp(el);
      }
    });
  }

  // What the chosen option does, under its select (the option texts are short).
  function choiceHelp(el) {
    if (!el.dataset.choiceHelp) return;
    const box = wrapper(el).querySelector(".choice-help");
    const text = JSON.parse(el.dataset.choiceHelp)[el.value] || "";
    box.textContent = text;
    box.hidden = !text;
  }

  function markChanged() {
    let changed = 0;
    inputs.forEach((el) => {
      if (el.dataset.preset === undefined) return;
      const differs = value(el).trim() !== el.dataset.preset;
      const note = wrapper(el).querySelector(".preset-value");
      wrapper(el).classList.toggle("changed", differs);
      note.hidden = !differs;
      note.textContent = differs ? "preset: " + (el.dataset.preset === "" ? "(empty)" : el.dataset.preset) : "";
      if (differs && !wrapper(el).hidden) changed += 1;
    });
    document.getElementById("changed-count").textContent =
      changed ? changed + " setting" + (changed > 1 ? "s" : "") + " changed from the preset" : "the preset as it is";
  }

  // The client-side hint says what the server would say: the same "Allowed: …" text as the help line.
  function checkBounds(el) {
    if (el.dataset.allowed === undefined || wrapper(el).classList.contains("has-error")) return;
    const box = wrapper(el).querySelector("[data-error]");
    const v = parseFloat(el.value);
    const lo = el.dataset.lo === undefined ? -Infinity : parseFloat(el.dataset.lo);
    const hi = el.dataset.hi === undefined ? Infinity : parseFloat(el.dataset.hi);
    const outside = (el.dataset.loOpen ? v <= lo : v < lo) || (el.dataset.hiOpen ? v >= hi : v > hi);
    const out = el.value.trim() !== "" && isFinite(v) && outside;
    box.hidden = !out;
    box.textContent = out ? el.dataset.allowed : "";
    wrapper(el).classList.toggle("out-of-bounds", !!out);
  }

  inputs.forEach((el) => {
    el.addEventListener("change", () => {
      if (el.name === "dataset__name") fitDataset();
      disclose(); choiceHelp(el); markChanged();
    });
    el.addEventListener("input", () => { checkBounds(el); markChanged(); });
    choiceHelp(el);
  });
  fitDataset();
  disclose();
  markChanged();

  // A refused submit: the summary at the top, in view and focused, its links leading to each field.
  const summary = document.getElementById("error-summary");
  if (summary) {
    summary.scrollIntoView({block: "start"});  // its scroll-margin keeps a little room above it
    summary.focus({preventScroll: true});
  }

  const data = document.getElementById("upload-columns");
  const upload = byName["dataset__upload"];
  const list = document.getElementById("target-columns");
  if (data && upload && list) {
    const columns = JSON.parse(data.textContent);
    const fill = () => list.replaceChildren(...(columns[upload.value] || []).map((name) => {
      const option = document.createElement("option");
      option.value = name;
      return option;
    }));
    upload.addEventListener("change", fill);
    fill();
  }
})();
