// Faces in the console: snapshots opened on purpose (each view is audited), "not this person",
// search by photo with its reason, and the watchlists; all through the faces API.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const words = JSON.parse(document.getElementById("words").textContent);
  const message = document.getElementById("message");
  const problem = async (response) => (await response.json().catch(() => ({}))).detail || response.status;
  for (const button of document.querySelectorAll("button[data-snapshot]")) {
    const img = button.nextElementSibling;
    const label = button.textContent;
    button.addEventListener("click", () => {
      const open = img.hidden;
      img.hidden = !open;
      if (open) img.src = `/api/v1/faces/recognitions/${button.dataset.snapshot}/snapshot`;
      else img.removeAttribute("src");
      button.textContent = open ? words.hide : label;
    });
  }
  for (const button of document.querySelectorAll("button[data-not-this]")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(button.dataset.confirm)) return;
      const response = await fetch(`/api/v1/faces/recognitions/${button.dataset.notThis}/not-this-person`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
      });
      if (response.ok) window.location.reload(); else message.textContent = await problem(response);
    });
  }
  const search = document.getElementById("search-form");
  if (search) {
    search.addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = document.getElementById("search-results");
      const response = await fetch("/api/v1/faces/search", { method: "POST", body: new FormData(search) });
      if (!response.ok) { out.textContent = await problem(response); return; }
      const found = await response.json();
      // Doors and cameras by name, as the log's filter lists them.
      const doors = new Map([...document.querySelectorAll("#log select[name=door] option")].map((o) => [o.value, o.textContent]));
      const lines = [
        ...found.enrolled.map((e) => `${words.enrolled}: ${e.name || e.person_id} (${e.score.toFixed(3)})`),
        ...found.sightings.map((s) => `${words.seen} ${pingan.time(s.at)} · ${doors.get(String(s.device_id)) || `#${s.device_id}`} (${s.score.toFixed(3)})`),
      ];
      out.replaceChildren(...(lines.length ? lines : [words.none]).map((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        return li;
      }));
    });
  }
  const watch = document.getElementById("watch-form");
  if (watch) {
    const f = watch.elements;
    const show = () => {
      for (const label of watch.querySelectorAll("label[data-for]")) label.hidden = !label.dataset.for.split(" ").includes(f.kind.value);
    };
    f.kind.addEventListener("change", show);
    show();
    watch.addEventListener("submit", async (event) => {
      event.preventDefault();
      const kind = f.kind.value;
      const data = { kind, node_id: Number(f.node_id.value) };
      if (kind === "blocked") {
        Object.assign(data, { subject: f.subject.value.trim() || null, legal_basis: f.legal_basis.value.trim() || null,
          case_ref: f.case_ref.value.trim() || null, expires_at: f.expires_at.value ? new Date(`${f.expires_at.value}T23:59:00+08:00`).toISOString() : null });
      } else {
        data.person_id = f.person_id.value ? Number(f.person_id.value) : null;
        if (kind === "care") data.not_seen_days = Number(f.not_seen_days.value) || 3;
        if (kind === "dementia") Object.assign(data, { contact: f.contact.value.trim() || null, contact_phone: f.contact_phone.value.trim() || null });
      }
      const response = await fetch("/api/v1/watchlist", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data),
      });
      if (response.ok) window.location.reload(); else watch.querySelector(".error").textContent = await problem(response);
    });
  }
  for (const button of document.querySelectorAll("button[data-end]")) {
    button.addEventListener("click", async () => {
      const response = await fetch(`/api/v1/watchlist/${button.dataset.end}/end`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
      });
      if (response.ok) window.location.reload(); else message.textContent = await problem(response);
    });
  }
});
