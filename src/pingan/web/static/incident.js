// One grid incident: the moves its state allows, each with what it needs (a reason, a handler,
// days, after-photos), sent to the API as the case's version; the map of where it is.
"use strict";
(() => {
  const incident = JSON.parse(document.getElementById("incident").textContent);
  const words = JSON.parse(document.getElementById("words").textContent);
  const form = document.getElementById("act");
  const message = document.getElementById("message");
  let action = null;

  function choose(chosen) {
    action = chosen;
    const details = document.getElementById("details");
    details.hidden = false;
    document.getElementById("chosen").textContent = words.actions[chosen];
    for (const label of details.querySelectorAll("label[data-for]")) {
      label.hidden = !label.dataset.for.split(" ").includes(chosen);
    }
    const reasons = form.elements.reason;
    reasons.replaceChildren(...(incident.reasons[chosen] || []).map((r) => new Option(words.reasons[r], r)));
    form.elements.note.focus();
  }

  async function send(event) {
    event.preventDefault();
    if (!action) return;
    const move = { action, version: incident.version };
    const note = form.elements.note.value.trim();
    if (note) move.note = note;
    if (incident.reasons[action]) move.reason = form.elements.reason.value;
    if (action === "assign") {
      const user = form.elements.assignee_user_id.value;
      if (user) move.assignee_user_id = Number(user);
      else move.assignee = form.elements.assignee.value.trim();
    }
    if (action === "merge") move.target_id = Number(form.elements.target_id.value);
    if (action === "extend_ask" || action === "extend_grant") move.days = Number(form.elements.days.value);
    const body = new FormData();
    body.append("move", JSON.stringify(move));
    if (action === "done") {
      const files = form.elements.photos.files;
      if (!files.length) { message.textContent = words.need_photo; return; }
      for (const file of files) body.append("photos", file);
    }
    const r = await fetch(`/api/v1/incidents/${incident.id}/actions`, { method: "POST", body });
    if (r.ok) { location.reload(); return; }
    const problem = await r.json().catch(() => ({}));
    message.textContent = problem.detail || r.statusText;
  }

  // Keys like the alarm desk's: A accept, P assign, T take, D done, V verify, C close, N note.
  const KEYS = { a: "accept", p: "assign", t: "take", d: "done", v: "verify", c: "close", n: "note" };
  document.addEventListener("keydown", (e) => {
    if (!form || e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const wanted = KEYS[e.key.toLowerCase()];
    if (wanted && incident.actions.includes(wanted)) { e.preventDefault(); choose(wanted); }
    else if (e.key === "Escape") document.getElementById("cancel").click();
  });

  if (form) {
    for (const button of form.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => choose(button.dataset.action));
    }
    form.addEventListener("submit", send);
    document.getElementById("cancel").addEventListener("click", () => {
      document.getElementById("details").hidden = true;
      action = null;
    });
  }

  const box = document.getElementById("minimap");
  if (box && window.L) {
    const point = [Number(box.dataset.lat), Number(box.dataset.lon)];
    const map = L.map(box, { attributionControl: false }).setView(point, 17);
    pingan.baseMap(map);
    if (incident.boundaries) {
      fetch(pingan.layerUrl("/api/v1/map/boundaries")).then((r) => r.json()).then((data) => {
        L.geoJSON(data, { style: { color: "#0b3d91", weight: 1, fillOpacity: 0.04 } }).addTo(map);
      });
    }
    L.circleMarker(point, { radius: 10, color: "#c2255c", fillOpacity: 0.8 }).addTo(map);
  }
})();
