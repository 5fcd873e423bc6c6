// Shared by every page: times in Asia/Shanghai, the wall-screen mode, alarm actions, the live feed.
"use strict";
window.pingan = (() => {
  const lang = document.documentElement.lang;
  const shanghai = new Intl.DateTimeFormat(lang, {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hour12: false,
  });

  const shanghaiDay = new Intl.DateTimeFormat(lang, { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit" });

  function time(iso) { return iso ? shanghai.format(new Date(iso)) : ""; }

  // A time as its date alone where the day is what counts (<time data-date>: an inspection's).
  function localiseTimes(root) {
    for (const el of (root || document).querySelectorAll("time[datetime]")) {
      const at = el.getAttribute("datetime");
      el.textContent = el.hasAttribute("data-date") ? shanghaiDay.format(new Date(at)) : time(at);
    }
  }

  // An action on an alarm; on a conflict the caller gets the alarm as it is now and the reason.
  async function act(id, action, version, note) {
    const response = await fetch(`/api/v1/alarms/${id}/actions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ action, version, note: note || null }),
    });
    const data = await response.json();
    if (response.ok) return { alarm: data };
    const fresh = await fetch(`/api/v1/alarms/${id}`);
    return { error: data.detail, alarm: fresh.ok ? await fresh.json() : null };
  }

  // An alarm's rule title in the page's language (titles: from the page's words), then its subject.
  function headline(alarm, titles) {
    return [titles[alarm.title] || alarm.title, alarm.subject].filter(Boolean).join(" · ");
  }

  function alarmStream(onChange, indicator) {
    const stream = new EventSource("/api/v1/alarms/stream");
    stream.addEventListener("hello", () => { if (indicator) { indicator.classList.remove("down"); indicator.title = ""; } });
    stream.addEventListener("alarm", (event) => onChange(JSON.parse(event.data)));
    stream.onerror = () => { if (indicator) { indicator.classList.add("down"); indicator.title = indicator.dataset.offline || ""; } };
    return stream;
  }

  // The base map under our layers, when the deployment has one (see pingan.web.basemap); our
  // layers are asked in its coordinates (GCJ-02 for AMap's or Tencent's tiles).
  const basemap = JSON.parse((document.getElementById("basemap") || {}).textContent || '{"layers": [], "crs": "wgs84"}');
  function baseMap(map) {
    for (const layer of basemap.layers) {
      const { url, ...options } = layer;
      L.tileLayer(url, options).addTo(map);
    }
    if (basemap.streets) streets(map);
  }

  // With no tiles, the streets a deployment (or the demo) provides: drawn under our layers,
  // roads named where they run, lanes thinner.
  function streets(map) {
    const pane = map.createPane("streets");
    pane.style.zIndex = 250;  // above the tiles' 200, below our shapes' 400
    pane.style.pointerEvents = "none";
    const names = map.createPane("street-names");
    names.style.zIndex = 450;  // above our shapes' fill, below the markers' 600
    names.style.pointerEvents = "none";
    map.getContainer().classList.add("with-streets");
    fetch(basemap.streets).then((r) => r.json()).then((data) => {
      const lane = (f) => f.properties.kind === "lane";
      for (const [casing, color] of [[true, "#ffffff"], [false, "#f7d9a0"]]) {
        L.geoJSON(data, {
          pane: "streets", interactive: false,
          style: (f) => ({ color: casing ? color : lane(f) ? "#ffffff" : color, opacity: 1,
            weight: (lane(f) ? 4 : 9) + (casing ? 3 : 0), lineCap: "round", lineJoin: "round" }),
        }).addTo(map);
      }
      // A road's name in the middle of each of its ways (a block, from crossing to crossing).
      for (const f of data.features) {
        if (lane(f) || !f.properties.name) continue;
        const lines = f.geometry.type === "LineString" ? [f.geometry.coordinates] : f.geometry.coordinates;
        for (const points of lines) {
          const [lon, lat] = points[Math.floor(points.length / 2)];
          const [first, last] = [points[0], points[points.length - 1]];
          // Written along the road: top to bottom beside a road that runs north and south.
          const upright = Math.abs(last[1] - first[1]) > Math.abs(last[0] - first[0]);
          L.tooltip({ permanent: true, direction: "center", pane: "street-names",
            className: upright ? "street-name upright" : "street-name" })
            .setLatLng([lat, lon]).setContent(f.properties.name).addTo(map);
        }
      }
    });
  }
  // Sites coloured by their physical-defence completeness (the facilities desk, the map).
  const esc = (t) => String(t ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  function facilityLayer(data, words) {
    const colour = (p) => (p >= 1 ? "#2b8a3e" : p >= 0.8 ? "#94d82d" : p >= 0.5 ? "#f08c00" : "#c92a2a");
    return L.geoJSON(data, {
      pointToLayer: (f, at) => L.circleMarker(at, {
        radius: 8, color: "#fff", weight: 1, fillOpacity: 0.9, fillColor: colour(f.properties.completeness),
        className: "facility",
      }),
      onEachFeature: (f, l) => l.bindPopup(
        `<strong>${esc(f.properties.name)}</strong><br>${esc(words.site_types[f.properties.site_type] || "")}<br>` +
        `${esc(words.completeness)}: ${Math.round(100 * f.properties.completeness)}% (${f.properties.present}/${f.properties.required})` +
        `${f.properties.defects ? `<br>${esc(words.defects)}: ${f.properties.defects}` : ""}<br>` +
        `<a href="/facilities/sites/${f.properties.id}">${esc(words.details)}</a>`),
    });
  }

  function layerUrl(path) {
    return basemap.crs === "wgs84" ? path : `${path}${path.includes("?") ? "&" : "?"}crs=${basemap.crs}`;
  }

  // Wall mode: full screen and larger type for a screen read from across the room; remembered.
  function setWall(on) {
    document.documentElement.classList.toggle("wall", on);
    const button = document.getElementById("wall");
    if (button) button.setAttribute("aria-pressed", String(on));
    localStorage.setItem("pingan.wall", on ? "1" : "");
    window.dispatchEvent(new Event("resize"));  // charts and the map redraw at the new size
  }

  document.addEventListener("DOMContentLoaded", () => {
    localiseTimes();
    document.body.addEventListener("htmx:after:swap", (e) => localiseTimes(e.target));
    if (localStorage.getItem("pingan.wall")) setWall(true);
    // A masked number read whole on purpose (the read is written to the audit log).
    for (const reveal of document.querySelectorAll("[data-reveal]")) {
      reveal.addEventListener("click", async () => {
        const response = await fetch(reveal.dataset.reveal, { credentials: "same-origin" });
        const data = await response.json();
        const shown = document.getElementById(reveal.dataset.target);
        if (response.ok) { shown.textContent = data.value || "—"; reveal.remove(); }
        else shown.title = data.detail || response.statusText;
      });
    }
    // A camera's live picture (alarm and device pages): decoded by the platform only while shown.
    for (const live of document.querySelectorAll(".live-view")) {
      const img = live.nextElementSibling;
      const open = live.textContent;
      live.addEventListener("click", () => {
        const showing = !img.hidden;
        img.hidden = showing;
        if (showing) img.removeAttribute("src"); else img.src = live.dataset.src;
        live.textContent = showing ? open : live.dataset.close;
      });
    }
    const button = document.getElementById("wall");
    if (button) button.addEventListener("click", () => {
      const on = !document.documentElement.classList.contains("wall");
      setWall(on);
      if (on && document.fullscreenEnabled) document.documentElement.requestFullscreen().catch(() => {});
      else if (!on && document.fullscreenElement) document.exitFullscreen();
    });
  });
  document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement) setWall(false); });

  return { time, localiseTimes, act, headline, alarmStream, setWall, baseMap, layerUrl, facilityLayer, crs: basemap.crs };
})();
