// The console's patrol page: forms that create teams, members, shifts, routes and meetings
// through the patrol API; a route's checkpoints are clicked on a map, in order.
"use strict";
(() => {
  const words = JSON.parse(document.getElementById("words").textContent);
  const points = [];  // {name, lat, lon, due_min, marker}

  // A time typed in the form is Beijing time, as every time the console shows.
  const iso = (local) => (local ? new Date(`${local.length === 16 ? `${local}:00` : local}+08:00`).toISOString() : null);

  function body(form) {
    const f = form.elements;
    switch (form.dataset.kind) {
      case "team":
        return { kind: f.kind.value, name: f.name.value.trim(), node_id: Number(f.node_id.value) };
      case "member":
        return {
          person_id: Number(f.person_id.value),
          user_id: f.user_id.value ? Number(f.user_id.value) : null,
          leader: f.leader.checked,
          programme: f.programme.value.trim() || null,
        };
      case "shift":
        return { member_id: Number(f.member_id.value), starts_at: iso(f.starts_at.value), ends_at: iso(f.ends_at.value) };
      case "meeting":
        return {
          title: f.title.value.trim(), held_at: iso(f.held_at.value), node_id: Number(f.node_id.value),
          attendees: f.attendees.value.split(/[、,，;；]/).map((a) => a.trim()).filter(Boolean),
          decisions: f.decisions.value.trim(),
        };
      case "route":
        return {
          team_id: Number(f.team_id.value), name: f.name.value.trim(), duration_min: Number(f.duration_min.value),
          checkpoints: points.map((p) => ({ name: p.name, lon: p.lon, lat: p.lat, due_min: p.due_min })),
          crs: pingan.crs,  // clicked on the base map, in its coordinates
        };
      default:
        return {};
    }
  }

  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = form.querySelector(".error");
      if (form.dataset.kind === "route" && !points.length) { error.textContent = words.no_points; return; }
      const response = await fetch(form.dataset.api, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body(form)),
      });
      if (response.ok) { location.reload(); return; }
      const problem = await response.json().catch(() => ({}));
      error.textContent = problem.detail || response.status;
    });
  }

  // A member is a person of the territory: found by name or phone within the team's place.
  for (const input of document.querySelectorAll("input[name=q][data-within]")) {
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const q = input.value.trim();
        if (!q) return;
        const response = await fetch(`/api/v1/people?q=${encodeURIComponent(q)}&within=${input.dataset.within}&limit=20`);
        if (!response.ok) return;
        const select = input.form.elements.person_id;
        select.replaceChildren();
        for (const person of (await response.json()).items) {
          select.append(new Option(`${person.name}${person.phone ? " · " + person.phone : ""}`, person.id));
        }
      }, 250);
    });
  }

  // A new route: click the checkpoints on the map in walking order; each gets a name and the
  // minute it is due by, spread over the route's duration (both can be changed in the list).
  const box = document.getElementById("route-map");
  const list = document.getElementById("points");
  if (!box || !window.L) return;
  let map = null;

  function spread() {
    const duration = Number(document.querySelector("#new-route [name=duration_min]").value) || 60;
    points.forEach((p, i) => { p.due_min = Math.round((duration * (i + 1)) / points.length); });
  }

  function render() {
    list.replaceChildren();
    points.forEach((p, i) => {
      const li = document.createElement("li");
      // No name is made up: the one who draws the route names each point as it is known on site.
      const name = Object.assign(document.createElement("input"), {
        value: p.name, required: true, maxLength: 100, placeholder: `${words.point} ${i + 1}`,
      });
      name.setAttribute("aria-label", words.point);
      name.addEventListener("input", () => { p.name = name.value.trim(); });
      const due = Object.assign(document.createElement("input"), { type: "number", min: 0, max: 1440, value: p.due_min });
      due.setAttribute("aria-label", words.due);
      due.addEventListener("input", () => { p.due_min = Number(due.value); });
      const remove = Object.assign(document.createElement("button"), { type: "button", textContent: words.remove });
      remove.addEventListener("click", () => { map.removeLayer(p.marker); points.splice(i, 1); spread(); render(); });
      li.append(name, " ", due, ` ${words.due} `, remove);
      list.append(li);
    });
  }

  document.getElementById("new-route-box").addEventListener("toggle", () => {
    if (map) return;
    map = L.map(box, { attributionControl: false }).setView([30.68, 103.8], 15);
    pingan.baseMap(map);
    // The chosen team's community is drawn stronger and shown whole: its checkpoints lie there.
    const teamSelect = document.querySelector("#new-route [name=team_id]");
    let layer = null;
    function showArea() {
      if (!layer) return;
      const option = teamSelect.selectedOptions[0];
      const area = option ? Number(option.dataset.area) : 0;
      let bounds = null;
      layer.eachLayer((l) => {
        const mine = !area || l.feature.properties.id === area;
        l.setStyle({ weight: mine && area ? 3 : 1, fillOpacity: mine && area ? 0.12 : 0.04 });
        if (mine && l.feature.properties.kind === "community") bounds = bounds ? bounds.extend(l.getBounds()) : L.latLngBounds(l.getBounds().getSouthWest(), l.getBounds().getNorthEast());
      });
      const target = bounds || layer.getBounds();
      if (target.isValid()) map.fitBounds(target);
    }
    fetch(pingan.layerUrl("/api/v1/map/boundaries")).then((r) => r.json()).then((data) => {
      layer = L.geoJSON(data, { style: { color: "#0b3d91", weight: 1, fillOpacity: 0.04 } }).addTo(map);
      showArea();
    });
    teamSelect.addEventListener("change", showArea);
    map.on("click", (event) => {
      const p = { name: "", lat: event.latlng.lat, lon: event.latlng.lng, due_min: 0 };
      p.marker = L.circleMarker(event.latlng, { radius: 7, color: "#b71c1c", className: "checkpoint" }).addTo(map);
      points.push(p);
      spread();
      render();
    });
  });
  document.querySelector("#new-route [name=duration_min]").addEventListener("input", () => { spread(); render(); });
})();
