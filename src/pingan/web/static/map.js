// The territory map: our own GeoJSON layers (no tile server needed), each a switchable layer.
"use strict";
(() => {
  const box = document.getElementById("map");
  const words = JSON.parse(document.getElementById("words").textContent);
  const map = L.map(box, { attributionControl: false, preferCanvas: true });
  pingan.baseMap(map);
  const control = L.control.layers(null, null, { collapsed: false }).addTo(map);
  const COLOURS = { 1: "#c92a2a", 2: "#e8590c", 3: "#f08c00", 4: "#f08c00" };
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  const get = (layer) => fetch(pingan.layerUrl(`/api/v1/map/${layer}`)).then((r) => r.json());

  get("boundaries").then((data) => {
    const layer = L.geoJSON(data, {
      style: (f) => f.properties.kind === "community"
        ? { color: "#0b3d91", weight: 2, fillOpacity: 0.05 }
        : { color: "#5c7cfa", weight: 1, dashArray: "4 4", fill: false },
      onEachFeature: (f, l) => l.bindTooltip(esc(f.properties.name), f.properties.kind === "community"
        ? { permanent: true, direction: "center", className: "area-label" } : { sticky: true })
        .on("click", () => { window.location.href = `/territory?node=${f.properties.id}`; }),
    }).addTo(map);
    control.addOverlay(layer, words.boundaries);
    if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds());
    else map.setView([30.70, 103.80], 14);
    return get("sites");
  }).then((data) => {
    const layer = L.geoJSON(data, {
      pointToLayer: (f, at) => L.circleMarker(at, {
        radius: f.properties.open_alarms ? 9 : 6,
        color: "#fff", weight: 1, fillOpacity: 0.9,
        fillColor: COLOURS[f.properties.top_priority] || "#2b8a3e",
      }),
      onEachFeature: (f, l) => l.bindPopup(
        `<strong>${esc(f.properties.name)}</strong><br>${esc(f.properties.site_type)}<br>` +
        `${words.open_alarms}: ${f.properties.open_alarms}<br>` +
        `<a href="/territory?node=${f.properties.id}">${words.details}</a>`),
    }).addTo(map);
    layer.getLayers().forEach((m) => m.feature.properties.open_alarms && m.bringToFront());
    control.addOverlay(layer, words.sites);
    box.dataset.loaded = "sites";
    if (!box.dataset.devices) return null;
    return get("devices");
  }).then((data) => {
    if (!data) return;
    const layer = L.geoJSON(data, {
      pointToLayer: (f, at) => L.circleMarker(at, {
        radius: 4, weight: 1, color: "#fff", fillOpacity: 1,
        fillColor: f.properties.status === "online" ? "#2b8a3e" : f.properties.status === "offline" ? "#868e96" : "#adb5bd",
      }),
      onEachFeature: (f, l) => l.bindPopup(
        `<strong>${esc(f.properties.name)}</strong><br>${esc(f.properties.kind)}` +
        `${f.properties.location ? " · " + esc(f.properties.location) : ""}<br>${esc(words[f.properties.status] || "")}` +
        (f.properties.site_id ? `<br><a href="/territory?node=${f.properties.site_id}">${words.details}</a>` : "")),
    });
    // On at first for those who watch devices; small dots under the sites' markers.
    layer.addTo(map);
    layer.bringToBack();
    control.addOverlay(layer, words.devices);
    box.dataset.loaded = "devices";
  }).then(() => (box.dataset.incidents ? get("incidents") : null)).then((data) => {
    if (!data) return;
    // Open grid incidents, coloured by age: today's, this week's, older or overdue (under the
    // responders, who are drawn last).
    const colour = (p) => (p.overdue || p.age_days >= 7 ? "#862e9c" : p.age_days >= 1 ? "#d6336c" : "#f783ac");
    const layer = L.geoJSON(data, {
      pointToLayer: (f, at) => L.circleMarker(at, {
        radius: 7, weight: 2, color: "#fff", fillOpacity: 0.95, fillColor: colour(f.properties), className: "incident",
      }),
      onEachFeature: (f, l) => l.bindPopup(
        `<strong>#${f.properties.id} ${esc(words.kinds[f.properties.kind] || f.properties.kind)}</strong><br>` +
        `${esc(words.states[f.properties.state] || "")} · ${esc(words.days.replace("{d}", f.properties.age_days))}` +
        `${f.properties.overdue ? " · " + esc(words.overdue) : ""}<br>${esc(f.properties.address || "")}<br>` +
        `<a href="/incidents/${f.properties.id}">${words.details}</a>`),
    }).addTo(map);
    control.addOverlay(layer, words.incidents);
    box.dataset.loaded = "incidents";
  }).then(() => (box.dataset.facilities ? get("facilities") : null)).then((data) => {
    if (!data) return;
    // Physical defence: the sites coloured by completeness, off until chosen (over the sites).
    control.addOverlay(pingan.facilityLayer(data, words.facilities), words.facilities.layer);
    box.dataset.loaded = "facilities";
  }).then(() => (box.dataset.responders ? get("responders") : null)).then((data) => {
    if (!data) return;
    // Who the centre can send: on duty, with a recent position; busy ones are hollow.
    const people = L.svg();
    const layer = L.geoJSON(data, {
      pointToLayer: (f, at) => L.circleMarker(at, {
        radius: 8, weight: 3, color: "#1864ab", fillColor: "#1864ab", fillOpacity: f.properties.busy ? 0 : 0.9,
        className: "responder", renderer: people,  // a few markers, on top of the canvas
      }),
      onEachFeature: (f, l) => l.bindPopup(
        `<strong>${esc(f.properties.name)}</strong><br>${esc(f.properties.team)}<br>` +
        `${f.properties.busy ? words.busy : words.free} · ${words.seen} ${pingan.time(f.properties.seen_at)}`),
    }).addTo(map);
    control.addOverlay(layer, words.responders);
    box.dataset.loaded = "responders";
  });
})();
