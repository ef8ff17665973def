// Match inbox keys: j / k move between matches, c confirm, i ignore, w authorised use (the focused one).
"use strict";
(() => {
  const rows = Array.from(document.querySelectorAll("article.match"));
  if (!rows.length) return;
  let at = Math.max(0, rows.findIndex((r) => `#${r.id}` === window.location.hash));
  const focus = (i) => {
    at = Math.min(rows.length - 1, Math.max(0, i));
    rows.forEach((r, j) => r.classList.toggle("current", j === at));
    rows[at].focus();
  };
  rows.forEach((r, i) => r.addEventListener("focusin", () => { at = i; rows.forEach((x, j) => x.classList.toggle("current", j === i)); }));
  focus(at);
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.target.closest("input, select, textarea")) return;
    if (ev.key === "j") { focus(at + 1); ev.preventDefault(); return; }
    if (ev.key === "k") { focus(at - 1); ev.preventDefault(); return; }
    const btn = rows[at].querySelector(`button[data-key="${ev.key}"]`);
    if (btn) { ev.preventDefault(); btn.click(); }
  });
})();
