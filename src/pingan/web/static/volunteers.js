// Volunteer service at the community's desk: sign-ups confirmed or refused, an activity set (its
// code then shown), flagged check-ins accepted or not, the street's programmes and star levels —
// each through the API.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const words = JSON.parse($("words").textContent);
  const failed = async (r, where) => {
    const problem = await r.json().catch(() => ({}));
    where.textContent = words.failed.replace("{reason}", problem.detail || r.statusText);
  };
  const send = (url, method, body) => fetch(url, { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  const community = $("community");
  if (community) community.addEventListener("change", () => community.form.submit());

  for (const button of document.querySelectorAll("#pending .decide")) {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      const team = row.querySelector(".team");
      const body = { decision: button.dataset.decision, team_id: team && team.value ? Number(team.value) : null };
      const r = await send(`/api/v1/volunteers/${row.dataset.volunteer}/decision`, "POST", body);
      if (r.ok) { window.location.reload(); return; }
      await failed(r, $("pending-message"));
    });
  }

  for (const button of document.querySelectorAll("#flagged .accept")) {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      const r = await send(`/api/v1/volunteer-attendances/${row.dataset.attendance}/decision`, "POST", { accept: button.dataset.accept === "true" });
      if (r.ok) row.remove();
    });
  }

  const dialog = $("activity");
  if (dialog) {
    const form = $("activity-form");
    $("new-activity").addEventListener("click", () => dialog.showModal());
    $("activity-cancel").addEventListener("click", () => dialog.close());
    // The times typed are Beijing's, wherever the browser is.
    const beijing = (local) => `${local}:00+08:00`;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = form.elements;
      const number = (name) => (f[name].value === "" ? null : Number(f[name].value));
      const body = {
        kind: f.kind.value, title: f.title.value.trim(), programme_id: number("programme_id"), node_id: Number(f.node_id.value),
        place: f.place.value.trim(), lon: number("lon"), lat: number("lat"), radius_m: Number(f.radius_m.value || 300),
        starts_at: beijing(f.starts_at.value), ends_at: beijing(f.ends_at.value), capacity: number("capacity"),
        incident_id: number("incident_id"),
      };
      const r = await send("/api/v1/volunteer-activities", "POST", body);
      if (r.ok) { window.location.href = `/volunteers/activities/${(await r.json()).id}`; return; }
      await failed(r, $("activity-message"));
    });
  }

  const programme = $("programme");
  if (programme) {
    programme.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = programme.elements;
      const r = await send("/api/v1/volunteer-programmes", "POST", { code: f.code.value.trim(), name: f.name.value.trim(), description: f.description.value.trim() || null });
      if (r.ok) { window.location.reload(); return; }
      await failed(r, $("programme-message"));
    });
  }

  const levels = $("levels-form");
  if (levels && $("levels-message")) {
    levels.addEventListener("submit", async (event) => {
      event.preventDefault();
      const rows = [...levels.querySelectorAll("tr")].map((tr) => ({
        name: tr.querySelector("input[name=name]").value.trim(), hours: Number(tr.querySelector("input[name=hours]").value),
      }));
      const r = await send("/api/v1/volunteer-levels", "PUT", { levels: rows });
      if (r.ok) { window.location.reload(); return; }
      await failed(r, $("levels-message"));
    });
  }
})();
