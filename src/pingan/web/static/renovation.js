// Renovation in the console: a project planned from the board, a residents' meeting recorded with
// its minutes, a stage reached with its date and photos — each through the API.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const words = JSON.parse($("words").textContent);
  const failed = async (r, where) => {
    const problem = await r.json().catch(() => ({}));
    where.textContent = words.failed.replace("{reason}", problem.detail || r.statusText);
  };

  const community = $("community");
  if (community) community.addEventListener("change", () => community.form.submit());

  // --- a new project --------------------------------------------------------------------------
  const dialog = $("plan");
  if (dialog) {
    const form = $("plan-form");
    $("new-project").addEventListener("click", () => dialog.showModal());
    $("plan-cancel").addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const checked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
      const funding = form.elements.funding.value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
        const at = line.search(/[0-9][0-9,]*$/);
        return { source: line.slice(0, at).trim(), yuan: Number(line.slice(at).replace(/,/g, "")) };
      });
      const body = {
        name: form.elements.name.value.trim(),
        sites: [...form.elements.sites.selectedOptions].map((o) => Number(o.value)),
        categories: checked("categories"),
        works: form.elements.works.value.trim(),
        utilities: checked("utilities"),
        items: checked("items"),
        budget_yuan: Number(form.elements.budget_yuan.value),
        funding,
        planned_on: form.elements.planned_on.value,
      };
      const r = await fetch("/api/v1/renovations", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (r.ok) { window.location.href = `/facilities/renovation/${(await r.json()).id}`; return; }
      await failed(r, $("plan-message"));
    });
  }

  // --- a stage reached ------------------------------------------------------------------------
  const move = $("move");
  if (move) {
    let action = null;
    for (const button of move.querySelectorAll("button[data-action]")) {
      button.addEventListener("click", () => {
        action = button.dataset.action;
        $("move-chosen").textContent = words.actions[action] || action;
        $("move-details").hidden = false;
      });
    }
    $("move-cancel").addEventListener("click", () => { $("move-details").hidden = true; });
    move.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = new FormData();
      body.append("move", JSON.stringify({
        action, on: move.elements.on.value, note: move.elements.note.value.trim() || null,
        version: Number(move.dataset.version),
      }));
      for (const file of move.elements.photos.files) body.append("photos", file);
      const r = await fetch(`/api/v1/renovations/${move.dataset.id}/actions`, { method: "POST", body });
      if (r.ok) { window.location.reload(); return; }
      await failed(r, $("message"));
    });
  }

  // --- the residents' meeting -------------------------------------------------------------------
  const consult = $("consult");
  if (consult) {
    consult.addEventListener("submit", async (event) => {
      event.preventDefault();
      const number = (name) => Number(consult.elements[name].value || 0);
      const body = new FormData();
      body.append("consultation", JSON.stringify({
        held_on: consult.elements.held_on.value, households: number("households"), present: number("present"),
        votes_for: number("votes_for"), votes_against: number("votes_against"), abstained: number("abstained"),
        decision: consult.elements.decision.value, note: consult.elements.note.value.trim() || null,
      }));
      body.append("minutes", consult.elements.minutes.files[0]);
      const r = await fetch(`/api/v1/renovations/${consult.dataset.id}/consultations`, { method: "POST", body });
      if (r.ok) { window.location.reload(); return; }
      await failed(r, $("message"));
    });
  }
})();
