// Works page: drag and drop many files; each is posted to POST /api/v1/works with the session cookie and
// the CSRF token, with one progress bar over all the bytes. Without JS the form posts to /works itself.
"use strict";
(() => {
  const form = document.getElementById("upload");
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  const bar = document.getElementById("progress");
  const text = document.getElementById("progress-text");
  const list = document.getElementById("upload-results");
  let dropped = null;

  const fill = (tpl, vals) => tpl.replace(/\{(\w+)\}/g, (_m, k) => String(vals[k]));
  const line = (cls, msg) => { const li = document.createElement("li"); li.className = cls; li.textContent = msg; list.append(li); };

  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => {
    dropped = Array.from(e.dataTransfer.files);
    try { input.files = e.dataTransfer.files; } catch (_e) { input.required = false; }  // older browsers: keep our list
    text.textContent = dropped.map((f) => f.name).join(", ");
  });
  input.addEventListener("change", () => { dropped = null; });

  const send = (file, title, onProgress) => new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    const body = new FormData();
    body.append("file", file, file.name);
    if (title) body.append("title", title);
    xhr.open("POST", "/api/v1/works");
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded));
    xhr.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText); } catch (_e) { data = {}; }
      resolve({ ok: xhr.status < 300, data });
    });
    xhr.addEventListener("error", () => resolve({ ok: false, data: {} }));
    xhr.send(body);
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = dropped || Array.from(input.files);
    if (!files.length) return;
    const title = files.length === 1 ? form.elements.title.value : "";
    const total = files.reduce((n, f) => n + f.size, 0);
    const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
    let before = 0, done = 0, registered = 0;
    bar.hidden = false; bar.max = total || 1; list.textContent = "";
    const show = (sent) => {
      bar.value = before + sent;
      text.textContent = fill(form.dataset.progressText, { done, total: files.length, bytes_done: before + sent, bytes_total: total });
    };
    for (const file of files) {
      const res = await send(file, title, show);
      before += file.size; done += 1; show(0);
      if (res.ok) { registered += 1; line("ok", `${file.name}: #${res.data.id}`); }
      else { line("error", `${file.name}: ${(res.data.error && res.data.error[lang]) || "error"}`); }
    }
    text.textContent = fill(form.dataset.doneText, { n: registered });
    if (registered) window.setTimeout(() => window.location.assign("/works"), 600);
  });
})();
