// The report page of the phone: a problem with its kind, words, photos and position, sent to the
// platform — or, with no network, kept on the phone (IndexedDB, photos included) and sent when
// the network is back. A resident's reports are remembered on the phone by their keys, so
// "my reports" follows each case to its end.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const W = JSON.parse($("words").textContent);
  const KINDS = JSON.parse($("kinds").textContent).flatMap((c) => c.kinds);
  const form = $("report");
  const staff = form.dataset.staff === "yes";
  const MINE = "pingan.reports";
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_m, k) => values[k]);
  let position = null;  // {lon, lat} in WGS-84
  let photos = [];  // downscaled JPEG blobs

  function notice(text, bad) {
    $("notice").textContent = text;
    $("notice").classList.toggle("bad", Boolean(bad));
    $("notice").hidden = false;
    $("notice").scrollIntoView({ block: "nearest" });
  }

  // --- the kind's own questions ------------------------------------------------------------------
  form.elements.kind.addEventListener("change", () => {
    const kind = KINDS.find((k) => k.code === form.elements.kind.value);
    const box = $("fields");
    box.replaceChildren();
    for (const field of kind ? kind.fields : []) {
      const label = document.createElement("label");
      label.textContent = field.description + " ";
      let input;
      if (field.values.length) {
        input = document.createElement("select");
        input.append(new Option("", ""), ...field.values.map((v) => new Option(v.name, v.key)));
      } else {
        input = document.createElement("input");
        input.type = field.datatype === "number" ? "number" : "text";
      }
      input.name = `attr.${field.code}`;
      input.required = field.required;
      input.dataset.number = field.datatype === "number" ? "1" : "";
      label.append(input);
      box.append(label);
    }
    checkNearby();
  });

  form.elements.photos.addEventListener("change", async () => {
    const files = [...form.elements.photos.files];
    if (files.length > 4) notice(W.too_many, true);
    photos = [];
    $("previews").replaceChildren();
    for (const file of files.slice(0, 4)) {
      const blob = await phoneKept.shrink(file);
      photos.push(blob);
      const img = document.createElement("img");
      img.src = URL.createObjectURL(blob);
      img.alt = "";
      $("previews").append(img);
    }
  });

  // --- where: the phone's position, or a point on the map -----------------------------------------
  const box = $("pickmap");
  let map = null, marker = null;
  if (window.L) {
    map = L.map(box, { attributionControl: false }).setView([30.68, 103.79], 14);
    pingan.baseMap(map);
    map.on("click", (e) => place(e.latlng.lng, e.latlng.lat, W.picked, true));
  }
  function place(lon, lat, words, fromMap) {
    // The map draws in the base map's system; the platform takes WGS-84 with `crs` said.
    position = { lon, lat, crs: fromMap ? (pingan.crs || "wgs84") : "wgs84" };
    $("where").textContent = words;
    if (map) {
      if (marker) marker.setLatLng([lat, lon]); else marker = L.circleMarker([lat, lon], { radius: 10, color: "#b71c1c", fillOpacity: 0.8 }).addTo(map);
      map.setView([lat, lon], 17);
    }
    checkNearby();
  }
  $("locate").addEventListener("click", () => {
    if (!navigator.geolocation) { notice(W.no_position, true); return; }
    $("where").textContent = W.locating;
    navigator.geolocation.getCurrentPosition(
      (p) => place(p.coords.longitude, p.coords.latitude, fmt(W.located, { m: Math.round(p.coords.accuracy) }), false),
      () => { $("where").textContent = W.no_position; },
      { enableHighAccuracy: true, timeout: 15000 });
  });

  // --- the same problem reported nearby already ---------------------------------------------------
  async function checkNearby() {
    const kind = form.elements.kind.value;
    if (!kind || !position || position.crs !== "wgs84" || !navigator.onLine) { $("nearby").hidden = true; return; }
    const q = new URLSearchParams({ kind, lon: position.lon, lat: position.lat });
    const r = await fetch(`/api/v1/incidents/nearby?${q}`).catch(() => null);
    const found = r && r.ok ? await r.json() : [];
    $("nearby").hidden = !found.length;
    $("nearby").textContent = fmt(W.nearby, { n: found.length });
  }

  // --- sending, and keeping what cannot be sent yet -----------------------------------------------
  function report() {
    const data = { kind: form.elements.kind.value, description: form.elements.description.value.trim(), attributes: {} };
    for (const input of $("fields").querySelectorAll("[name^='attr.']")) {
      if (input.value === "") continue;
      data.attributes[input.name.slice(5)] = input.dataset.number ? Number(input.value) : input.value;
    }
    if (position) Object.assign(data, position);
    const address = form.elements.address.value.trim();
    if (address) data.address = address;
    if (form.dataset.alarm) data.alarm_id = Number(form.dataset.alarm);
    if (form.dataset.checkpoint) data.checkpoint_id = Number(form.dataset.checkpoint);
    if (form.elements.reporter_phone) {
      const name = form.elements.reporter_name.value.trim();
      const phone = form.elements.reporter_phone.value.trim();
      if (name) data.reporter_name = name;
      if (phone) { data.reporter_phone = phone; data.notify_sms = form.elements.notify_sms.checked; }
    }
    return data;
  }

  const queue = phoneKept.queue("pingan-reports");
  const keep = queue.keep, drop = queue.drop, kept = queue.all;

  async function post(item) {
    const body = new FormData();
    body.append("report", JSON.stringify(item.data));
    item.photos.forEach((blob, i) => body.append("photos", blob, `photo${i + 1}.jpg`));
    return fetch(item.staff ? "/api/v1/incidents" : "/api/v1/public/incidents", { method: "POST", body });
  }

  function remember(answer) {
    const mine = JSON.parse(localStorage.getItem(MINE) || "[]");
    mine.unshift({ token: answer.token, id: answer.id, at: answer.reported_at });
    localStorage.setItem(MINE, JSON.stringify(mine.slice(0, 50)));
  }

  async function flush() {
    const items = await kept().catch(() => []);
    for (const { key, value } of items) {
      const r = await post(value).catch(() => null);
      if (!r) break;  // still no network
      if (r.ok) remember(await r.json());
      await drop(key);  // sent, or refused for good (its reason was shown when it was made)
    }
    await showQueue();
    await showMine();
  }
  async function showQueue() {
    const n = (await kept().catch(() => [])).length;
    $("queue").hidden = n === 0;
    $("queue").textContent = fmt(W.pending, { n });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const item = { data: report(), photos, staff };
    const r = await post(item).catch(() => null);
    if (r === null) {
      await keep(item);
      notice(W.queued);
      await showQueue();
    } else if (r.ok) {
      const answer = await r.json();
      remember(answer);
      notice(fmt(W.sent, { id: answer.id }));
      form.reset();
      $("fields").replaceChildren();
      $("previews").replaceChildren();
      photos = [];
      await showMine();
    } else {
      const problem = await r.json().catch(() => ({}));
      notice(fmt(W.failed, { reason: problem.detail || r.statusText }), true);
    }
  });

  // --- my reports ---------------------------------------------------------------------------------
  async function showMine() {
    const mine = JSON.parse(localStorage.getItem(MINE) || "[]");
    if (!mine.length) return;
    const list = document.createElement("div");
    for (const item of mine) {
      const card = document.createElement("a");
      card.className = "card case-link";
      card.href = `/m/case/${encodeURIComponent(item.token)}`;
      card.textContent = `#${item.id} · ${W.open}`;
      list.append(card);
      fetch(`/api/v1/public/incidents/${encodeURIComponent(item.token)}`).then((r) => r.ok ? r.json() : null).then((c) => {
        if (c) card.textContent = `#${c.id} · ${W.states[c.state] || c.state} · ${c.description.slice(0, 30)}`;
      }).catch(() => {});
    }
    $("mine").replaceChildren(list);
  }

  const online = (on) => { $("net").hidden = on; if (on) flush(); };
  window.addEventListener("online", () => online(true));
  window.addEventListener("offline", () => online(false));
  online(navigator.onLine);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
})();
