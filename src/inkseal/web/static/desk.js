// Every page: the "copy" buttons next to prompts.
"use strict";
document.addEventListener("click", (ev) => {
  const btn = ev.target.closest("button.copy");
  if (!btn) return;
  const pre = btn.parentElement.querySelector("pre");
  if (pre && navigator.clipboard) {
    navigator.clipboard.writeText(pre.textContent).then(() => { btn.textContent = btn.dataset.copied; }, () => {});
  }
});
