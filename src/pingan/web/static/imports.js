// Bulk import: the file goes to the import API; its row-by-row report is shown as it came.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const words = JSON.parse(document.getElementById("words").textContent);
  const fmt = (text, params) => String(text).replace(/\{(\w+)\}/g, (_m, k) => params[k] ?? "");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  for (const form of document.querySelectorAll("form.import")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const report = form.querySelector(".report");
      const button = form.querySelector("button");
      const f = form.elements;
      const data = new FormData();
      data.append("file", f.file.files[0]);
      const query = new URLSearchParams({ dry_run: f.dry_run.checked ? "true" : "false" });
      if (f.crs) query.set("crs", f.crs.value);
      report.textContent = words.sending;
      button.disabled = true;
      const response = await fetch(`/api/v1/imports/${form.dataset.kind}?${query}`, { method: "POST", body: data });
      button.disabled = false;
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        report.className = "report ok";
        report.textContent = fmt(body.dry_run ? words.checked : words.ok, body);
        return;
      }
      report.className = "report error";
      const errors = body.errors || [];
      if (!errors.length) { report.textContent = body.detail || response.status; return; }
      const rows = new Set(errors.map((e) => e.row));
      report.innerHTML = `<p>${esc(fmt(words.failed, { n: rows.size }))}</p>` +
        `<table class="list"><thead><tr><th>${esc(words.row)}</th><th>${esc(words.field)}</th><th>${esc(words.message)}</th></tr></thead><tbody>` +
        errors.map((e) => `<tr><td>${esc(e.row)}</td><td>${esc(e.field)}</td><td>${esc(e.message)}</td></tr>`).join("") +
        "</tbody></table>";
    });
  }
});
