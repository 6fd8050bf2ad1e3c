// A queued run's place and rough start time, as the server renders it (experiments/templatetags/losslab.py).
window.LossLab = window.LossLab || {};
window.LossLab.queuePlace = function (run) {
  if (!run.queue_position) return "";
  const place = "#" + run.queue_position + " in queue";
  if (run.waiting_for) return place + " · " + run.waiting_for;
  const s = run.starts_in_seconds;
  if (s == null) return place;
  if (s < 1) return place + " · starting";
  if (s < 60) return place + " · starts in under a minute";
  const m = Math.round(s / 60);
  return place + " · starts in ~" + (m < 60 ? m + " min" : Math.floor(m / 60) + " h " + (m % 60) + " min");
};
