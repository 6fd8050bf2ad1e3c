// Launch form: offer the chosen upload's columns as target suggestions.
(function () {
  "use strict";
  const data = document.getElementById("upload-columns");
  const upload = document.getElementById("id_dataset__upload");
  const list = document.getElementById("target-columns");
  if (!data || !upload || !list) return;
  const columns = JSON.parse(data.textContent);
  function fill() {
    list.replaceChildren(...(columns[upload.value] || []).map((name) => {
      const option = document.createElement("option");
      option.value = name;
      return option;
    }));
  }
  upload.addEventListener("change", fill);
  fill();
})();
