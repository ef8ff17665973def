// Job page: follow the job's server-sent events (progress, then done) and reload when it ends, so the
// server draws the result. Without JS the page refreshes itself (<noscript> meta refresh).
"use strict";
(() => {
  const box = document.getElementById("job");
  if (!box || box.dataset.finished === "yes" || !window.EventSource) return;
  const bar = document.getElementById("job-progress");
  const step = document.getElementById("job-step");
  const count = document.getElementById("job-count");
  const source = new EventSource(box.dataset.events);
  source.addEventListener("progress", (ev) => {
    const p = JSON.parse(ev.data);
    box.dataset.live = "sse";
    bar.max = p.total || 1;
    bar.value = p.done;
    step.textContent = p.step || "";
    count.textContent = `${p.done} / ${p.total}`;
  });
  source.addEventListener("done", () => {
    box.dataset.live = "sse";
    source.close();
    window.location.reload();
  });
  source.addEventListener("error", () => {
    // The stream broke (server restart, network): EventSource retries by itself; nothing to show.
  });
})();
