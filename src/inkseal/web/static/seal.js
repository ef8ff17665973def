// Seal page: redraw the server's preview (the sealer's own placement) as the fields change.
// Without JS the "Preview" button reloads the page with the fields in its query.
"use strict";
(() => {
  const form = document.getElementById("seal");
  const img = document.getElementById("seal-preview");
  const error = document.getElementById("preview-error");
  if (!form || !img || !window.fetch || !window.URLSearchParams) return;
  const names = ["signature", "corner", "signature_size", "signature_opacity", "label_text", "label_corner"];
  let timer = null, shown = null, asked = 0;

  const query = () => {
    const q = new URLSearchParams();
    for (const n of names) { if (form.elements[n]) q.set(n, form.elements[n].value); }
    q.set("ai_label", form.elements.ai_label.checked ? "1" : "0");
    return q.toString();
  };
  const redraw = async () => {
    const mine = ++asked;
    const res = await fetch(`${form.dataset.preview}?${query()}`, { credentials: "same-origin" });
    if (mine !== asked) return;  // a newer redraw is on its way
    if (res.ok) {
      const url = URL.createObjectURL(await res.blob());
      img.src = url;
      if (shown) URL.revokeObjectURL(shown);
      shown = url;
      error.hidden = true;
      img.dataset.drawn = String(mine);
    } else {
      let line = "";
      try { line = (await res.json()).error; } catch (_e) { line = String(res.status); }
      error.textContent = line;
      error.hidden = false;
    }
  };
  const later = () => { window.clearTimeout(timer); timer = window.setTimeout(redraw, 250); };
  form.addEventListener("input", later);
  form.addEventListener("change", later);
  const button = document.getElementById("preview-button");
  if (button) button.hidden = true;  // the preview follows the fields by itself
})();
