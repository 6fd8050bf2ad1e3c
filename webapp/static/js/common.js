// What every live page shares: the finished run statuses, the verdict chip, and one poll loop.
// base.html loads this before the page scripts.
window.LossLab = window.LossLab || {};
(function (L) {
  "use strict";

  // Written once, in Python (Run.FINISHED); base.html renders it with json_script.
  const finished = document.getElementById("run-finished-statuses");
  L.FINISHED = Object.freeze(finished ? JSON.parse(finished.textContent) : []);
  L.isFinished = (status) => L.FINISHED.includes(status);

  // The same words and markup as experiments/_verdict.html (the verdict_label filter).
  L.verdictLabel = (verdict) => String(verdict || "").replaceAll("_", " ");
  L.verdictChip = function (verdict) {
    if (!verdict) return null;
    const chip = document.createElement("span");
    chip.className = "verdict verdict-" + verdict;
    chip.title = "Diagnosis of the loss curves";
    chip.textContent = L.verdictLabel(verdict);
    return chip;
  };

  // The one wording of a time on every page, as the `when` template filter (webapp/templatetags/losslab.py) writes it.
  L.relativeTime = function (seconds) {
    const span = Math.abs(seconds);
    if (span < 60) return "just now";
    let words;
    if (span < 3600) words = Math.floor(span / 60) + " min";
    else if (span < 86400) words = Math.floor(span / 3600) + " h";
    else {
      const days = Math.floor(span / 86400);
      words = days + (days === 1 ? " day" : " days");
    }
    return seconds >= 0 ? words + " ago" : "in " + words;
  };
  L.exactTime = (date) => date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  // <time datetime=ISO title="exact">3 min ago</time>; null for no time.
  L.when = function (iso) {
    if (!iso) return null;
    const date = new Date(iso);
    const el = document.createElement("time");
    el.dateTime = date.toISOString();
    el.title = L.exactTime(date);
    el.textContent = L.relativeTime((Date.now() - date) / 1000);
    return el;
  };
  // "3 min ago" grows old on an open page: every <time> is reworded each minute.
  setInterval(() => {
    for (const el of document.querySelectorAll("time[datetime]")) {
      el.textContent = L.relativeTime((Date.now() - new Date(el.dateTime)) / 1000);
    }
  }, 60000);

  // A fetch that throws on an HTTP error too, so that poll() backs off from a failing server as from a lost network.
  L.getJSON = async function (url) {
    const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (!response.ok) throw new Error(url + ": HTTP " + response.status);
    return response.json();
  };

  // One poll loop, in the spirit of healthchecks' adaptive-setinterval.js: call the async fn, wait, call it again.
  // fn returns false to stop, "idle" to wait `idle` ms this time (nothing running), anything else to wait `every`.
  // A hidden tab costs the server nothing: the loop pauses, and polls at once when the tab is shown again.
  // A failing fetch doubles the wait, up to a minute, until one succeeds.
  L.poll = function (fn, {every = 2000, idle = every, first = 0} = {}) {
    let timer = null, running = false, stopped = false, failures = 0;

    function schedule(ms) {
      clearTimeout(timer);
      timer = stopped ? null : setTimeout(tick, ms);
    }
    async function tick() {
      timer = null;
      if (stopped || running || document.hidden) return;  // visibilitychange or the running call reschedules
      running = true;
      let wait = every;
      try {
        const result = await fn();
        failures = 0;
        if (result === false) stop();
        else if (result === "idle") wait = idle;
      } catch (e) {
        failures += 1;
        wait = Math.min(every * 2 ** failures, 60000);
        console.warn("poll failed, next try in " + wait + " ms", e);
      } finally {
        running = false;
      }
      if (!document.hidden) schedule(wait);
    }
    function onVisibility() {
      if (document.hidden) { clearTimeout(timer); timer = null; } else schedule(0);
    }
    function stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisibility);
    }

    document.addEventListener("visibilitychange", onVisibility);
    schedule(first);
    return {stop};
  };

  // A button with data-copy="#id" copies that element's text. The Clipboard API needs a secure context
  // (https or localhost); a LossLab on a LAN address over http falls back to selecting and copying.
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    const text = source ? source.textContent.trim() : "";
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(source);
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand("copy");
    }
    const done = button.parentElement.querySelector("[data-copied]");
    if (done) done.hidden = false;
  });
})(window.LossLab);
