// Leaderboard: each configuration's mean and 95% interval as a forest plot, best at the top.
(function () {
  "use strict";
  const el = document.getElementById("ranking-data");
  if (!el) return;
  const board = JSON.parse(el.textContent);
  const groups = board.groups.slice(0, 30).reverse();  // Plotly draws the first category at the bottom
  const labels = groups.map((g) => "#" + g.rank + " " + (g.label.length > 60 ? g.label.slice(0, 57) + "…" : g.label));
  // Green: clearly different; grey: the leader not clearly ahead (it did not lose); orange: not clearly behind.
  const color = groups.map((g) => (g.key === board.baseline ? "#7b3fb0" : g.clearly_different ? "#1d7a43" : g.rank === 1 ? "#555" : "#b35c00"));
  const hasCi = (g) => g.ci_low !== null && g.ci_high !== null;  // none with fewer than 2 seeds
  Plotly.react("chart-ranking", [{
    type: "scatter", mode: "markers", orientation: "h", x: groups.map((g) => g.mean), y: labels,
    marker: {color, size: 9},
    error_x: {type: "data", symmetric: false, array: groups.map((g) => (hasCi(g) ? g.ci_high - g.mean : 0)),
              arrayminus: groups.map((g) => (hasCi(g) ? g.mean - g.ci_low : 0)), color: "#888", thickness: 1.5},
    customdata: groups.map((g) => [g.n, hasCi(g) ? g.ci_low.toFixed(4) + " – " + g.ci_high.toFixed(4) : "no interval: needs 2 seeds", g.reason]),
    hovertemplate: "%{y}<br>mean %{x:.4f} (%{customdata[1]})<br>%{customdata[0]} seeds · %{customdata[2]}<extra></extra>",
  }], {
    // The labels take the room they need (automargin), no fixed 320 px gutter; the height follows the rows.
    margin: {t: 10, r: 20, b: 44, l: 10}, height: 70 + 26 * groups.length, paper_bgcolor: "rgba(0,0,0,0)",
    xaxis: {title: {text: board.metric_label + (board.higher_is_better ? " (higher is better)" : " (lower is better)")}, automargin: true},
    yaxis: {automargin: true}, font: {size: 12},
  }, {responsive: true});
})();
