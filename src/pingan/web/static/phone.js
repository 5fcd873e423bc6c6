// The phone page of patrol members and volunteers: tasks pushed live, the run under way, scanning
// checkpoints. Check-ins wait on the phone (with the time they were scanned) while there is no
// network, and are sent when it is back.
"use strict";
(() => {
  const W = JSON.parse(document.getElementById("words").textContent);
  const ALARM_WORDS = JSON.parse(document.getElementById("alarm-words").textContent);
  const CATEGORIES = ALARM_WORDS.categories;
  // The rule's title in the phone's language, then the device or route as its people named it.
  const headline = (t) => [ALARM_WORDS.titles[t.title] || t.title, t.subject].filter(Boolean).join(" · ");
  const QUEUE = "pingan.checkins";
  const ME = "pingan.me";
  const $ = (id) => document.getElementById(id);
  const state = { me: null, route: null, run: null, tasks: [], seen: new Set(), scanning: null };

  const fmt = (text, params) => String(text ?? "").replace(/\{(\w+)\}/g, (_m, k) => (params[k] ?? ""));
  const shanghai = new Intl.DateTimeFormat(document.documentElement.lang, {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const hhmm = (iso) => (iso ? shanghai.format(new Date(iso)) : "");

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "onclick") node.addEventListener("click", v);
      else if (k === "class") node.className = v;
      else if (v !== undefined && v !== null) node.setAttribute(k, v);
    }
    for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function notice(text, bad) {
    const box = $("notice");
    box.textContent = text;
    box.classList.toggle("bad", Boolean(bad));
    box.hidden = !text;
  }

  // A call to the API: {ok, status, data}; throws only when the network is away.
  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const response = await fetch(`/api/v1/patrol${path}`, { credentials: "same-origin", ...init });
    if (response.status === 401) { location.href = `/login?next=${encodeURIComponent("/m/")}`; }
    let data = null;
    if (response.status !== 204) data = await response.json().catch(() => null);
    return { ok: response.ok, status: response.status, data };
  }

  function setOnline(on) { $("net").hidden = on; }

  // --- who I am, my routes, the run under way -------------------------------------------------

  async function loadMe() {
    try {
      const got = await api("/me");
      if (got.ok) { state.me = got.data; localStorage.setItem(ME, JSON.stringify(got.data)); setOnline(true); }
    } catch (_e) {
      state.me = JSON.parse(localStorage.getItem(ME) || "null");  // offline: what we knew
      setOnline(false);
    }
    renderMe();
    await loadRun();
  }

  async function loadRun() {
    const me = state.me;
    state.run = null;
    if (me && me.run_id) {
      try {
        const [run, route] = await Promise.all([api(`/runs/${me.run_id}`), api(`/routes/${me.run_route_id}`)]);
        if (run.ok && route.ok) {
          state.run = run.data; state.route = route.data;
          localStorage.setItem("pingan.run", JSON.stringify({ run: run.data, route: route.data }));
        }
      } catch (_e) {
        const kept = JSON.parse(localStorage.getItem("pingan.run") || "null");
        if (kept && kept.run.id === me.run_id) { state.run = kept.run; state.route = kept.route; }
      }
    }
    renderRun();
  }

  function renderMe() {
    const me = state.me;
    const served = (minutes) => (minutes >= 60
      ? fmt(W.hours_n, { h: Math.floor(minutes / 60), m: minutes % 60 })
      : fmt(W.minutes_n, { m: minutes }));
    const box = $("me");
    box.replaceChildren();
    if (!me) return;
    $("who").textContent = me.name;
    const dl = el("dl", { class: "me" });
    for (const t of me.teams) {
      dl.append(el("dt", {}, W[`team_${t.kind}`] || ""), el("dd", {}, t.team + (t.programme ? ` · ${t.programme}` : "")));
      dl.append(el("dt", {}, W.hours), el("dd", { id: `hours-${t.member_id}` }, served(t.service_minutes)));
    }
    if (me.shift_ends_at) dl.append(el("dt", {}, W.shift), el("dd", {}, hhmm(me.shift_ends_at)));
    box.append(dl);
    const ex = $("exceptions");
    ex.replaceChildren();
    for (const e of me.exceptions || []) {
      ex.append(el("div", { class: "card" },
        el("h2", {}, `${W.missed} · ${e.route}`),
        el("p", { class: "meta" }, `${e.member} · ${hhmm(e.finished_at)}`),
        el("p", {}, e.missed.join("、")),
        // A checkpoint missed for a reason worth handling (a locked gate, a broken light) is
        // reported as a grid incident from here.
        ...(e.missed_ids || []).map((id, i) => el("a", { class: "button second", href: `/m/report?checkpoint=${id}` }, `${W.report_missed} · ${e.missed[i]}`))));
    }
  }

  function renderRun() {
    const box = $("run");
    box.replaceChildren();
    const me = state.me;
    if (!me) return;
    if (!me.teams.length) { box.append(el("p", { class: "muted" }, W.no_team)); return; }
    if (!state.run) {
      if (!me.routes.length) box.append(el("p", { class: "muted" }, W.no_routes));
      for (const r of me.routes) {
        box.append(el("button", { type: "button", class: "go", "data-route": r.id, onclick: () => startRun(r.id) },
          `${W.start} · ${r.name}`));
      }
      return;
    }
    const done = new Map(state.run.checkins.map((c) => [c.checkpoint_id, c]));
    const points = state.route.checkpoints;
    box.append(el("p", { class: "meta", id: "progress" },
      `${state.route.name} · ${fmt(W.progress, { n: done.size, total: points.length })}`));
    const list = el("ol", { class: "points" });
    for (const p of points) {
      const c = done.get(p.id);
      const flags = c ? c.flags.map((f) => W[f] || f).join(" · ") : "";
      list.append(el("li", { class: c ? "done" : "", "data-checkpoint": p.id },
        el("span", { class: "mark" }, c ? "✓" : String(p.seq)),
        el("span", {}, p.name, el("br"), el("span", { class: "meta" }, c ? `${W.done} ${hhmm(c.at)}` : fmt(W.due, { m: p.due_min }))),
        flags ? el("span", { class: "flag" }, flags) : null));
    }
    box.append(list);
    box.append(el("button", { type: "button", class: "go", id: "scan", onclick: toggleScan }, W.scan));
    box.append(el("button", { type: "button", class: "second", id: "finish", onclick: finishRun }, W.finish));
  }

  async function startRun(routeId) {
    try {
      const got = await api(`/routes/${routeId}/runs`, {});
      if (!got.ok) { notice(fmt(W.failed, { reason: got.data?.detail || got.status }), true); return; }
      notice("");
      await loadMe();
    } catch (_e) { notice(W.offline, true); }
  }

  async function finishRun() {
    if (!state.run || !confirm(W.finish_confirm)) return;
    await flush();
    try {
      const got = await api(`/runs/${state.run.id}/finish`, {});
      if (!got.ok) notice(fmt(W.failed, { reason: got.data?.detail || got.status }), true);
      await loadMe();
    } catch (_e) { notice(W.offline, true); }
  }

  // --- check-ins: scanned, positioned, queued, sent ---------------------------------------------

  function position() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(
        (p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude }),
        () => resolve(null),
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 });
    });
  }

  const queued = () => JSON.parse(localStorage.getItem(QUEUE) || "[]");
  function keep(items) {
    localStorage.setItem(QUEUE, JSON.stringify(items));
    $("queue").hidden = items.length === 0;
    $("queue").textContent = fmt(W.pending, { n: items.length });
  }

  function tokenOf(text) {
    try {
      const url = new URL(text, location.href);
      if (url.searchParams.get("t")) return url.searchParams.get("t");
    } catch (_e) { /* not an address */ }
    return text.trim();
  }

  async function checkIn(text) {
    const token = tokenOf(text);
    const run = state.run ? state.run.id : state.me && state.me.run_id;
    if (!run) { notice(W.no_run, true); return; }
    const at = new Date().toISOString();  // when it was scanned, whenever it is sent
    const pos = await position();
    if (!pos) { notice(W.no_position, true); return; }
    keep([...queued(), { run, token, lon: pos.lon, lat: pos.lat, at }]);
    await flush(true);
  }

  // One sending at a time (a scan, the network coming back and the timer can meet), so that
  // nothing is sent twice.
  let sending = Promise.resolve();
  function flush(fresh) {
    sending = sending.catch(() => {}).then(() => flushOnce(fresh));
    return sending;
  }

  // Send what waits, oldest first; stop at the first sign of no network and keep the rest.
  async function flushOnce(fresh) {
    let items = queued();
    let sent = false;
    while (items.length) {
      const item = items[0];
      let got;
      try {
        got = await api(`/runs/${item.run}/checkins`, { token: item.token, lon: item.lon, lat: item.lat, at: item.at });
      } catch (_e) {
        setOnline(false);
        if (fresh) notice(W.queued);
        keep(items);
        return;
      }
      setOnline(true);
      items = items.slice(1);
      keep(items);
      if (got.ok) {
        sent = true;
        const point = state.route && state.route.checkpoints.find((p) => p.id === got.data.checkpoint_id);
        notice(fmt(W.checked, { name: point ? point.name : "" }));
      } else {
        notice(fmt(W.refused, { reason: got.data?.detail || got.status }), true);
      }
    }
    if (sent) await loadRun();
  }

  // The page's own scanner (the phone's camera app works as well: the code is this page's address).
  async function toggleScan() {
    if (state.scanning) { stopScan(); return; }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (_e) { notice(W.no_camera, true); return; }
    const video = $("video");
    video.srcObject = stream;
    await video.play();
    $("scanner").hidden = false;
    $("scan-hint").textContent = W.scan_hint;
    $("scan").textContent = W.scan_stop;
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    let detector = null;  // the phone's own barcode reader where it has one; jsQR otherwise
    try { if ("BarcodeDetector" in window) detector = new window.BarcodeDetector({ formats: ["qr_code"] }); } catch (_e) { /* jsQR */ }
    state.scanning = { stream, timer: null };
    const look = async () => {
      if (!state.scanning) return;
      let text = null;
      if (video.videoWidth) {
        if (detector) {
          const found = await detector.detect(video).catch(() => []);
          if (found.length) text = found[0].rawValue;
        }
        if (!text && window.jsQR) {
          canvas.width = video.videoWidth; canvas.height = video.videoHeight;
          ctx.drawImage(video, 0, 0);
          const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
          if (found) text = found.data;
        }
      }
      if (text) { stopScan(); await checkIn(text); return; }
      state.scanning.timer = setTimeout(look, 200);
    };
    look();
  }

  function stopScan() {
    if (!state.scanning) return;
    clearTimeout(state.scanning.timer);
    for (const track of state.scanning.stream.getTracks()) track.stop();
    state.scanning = null;
    $("scanner").hidden = true;
    const button = $("scan");
    if (button) button.textContent = W.scan;
  }

  // --- tasks, pushed live -----------------------------------------------------------------------

  const NEXT = {
    offered: [["accept", "go"], ["decline", "second"]],
    accepted: [["en_route", "go"], ["on_scene", ""], ["decline", "second"]],
    en_route: [["on_scene", "go"], ["decline", "second"]],
    on_scene: [["resolve", "go"]],
  };
  const LABEL = { accept: W.accept, en_route: W.go, on_scene: W.arrive, resolve: W.resolve, decline: W.decline };

  function alert_() {
    if (navigator.vibrate) navigator.vibrate([300, 150, 300, 150, 300]);
    try {
      const audio = new AudioContext();
      const beep = audio.createOscillator();
      beep.frequency.value = 880;
      beep.connect(audio.destination);
      beep.start();
      beep.stop(audio.currentTime + 0.4);
    } catch (_e) { /* no sound before the first touch */ }
  }

  function renderTasks() {
    const box = $("tasks");
    box.replaceChildren();
    if (!state.tasks.length) { box.append(el("p", { class: "muted" }, W.no_tasks)); return; }
    for (const t of state.tasks) {
      const card = el("article", { class: `card ${t.state}`, "data-task": t.id, "data-state": t.state },
        el("h2", {}, el("span", { class: `badge p${t.priority}` }, `P${t.priority}`), " ", headline(t)),
        el("p", { class: "meta" }, `${CATEGORIES[t.category] || t.category} · ${t.place}`),
        el("p", { class: "state" }, W[t.state] || t.state),
        t.distance_m !== null ? el("p", { class: "meta" }, fmt(W.away, { m: Math.round(t.distance_m) })) : null,
        t.state === "offered" ? el("p", { class: "meta countdown", "data-deadline": t.deadline }) : null,
        t.snapshot ? el("img", { class: "snapshot", src: t.snapshot, alt: headline(t) }) : null);
      if (t.state === "on_scene") {
        // What they find there that is not the alarm's (e-bikes charging in the stairwell …)
        // becomes a grid incident linked to it.
        card.append(el("a", { class: "button second", href: `/m/report?alarm=${t.alarm_id}` }, W.report_here));
        card.append(el("label", {}, W.note, el("textarea", { name: "note", maxlength: "2000" })));
        card.append(el("label", {}, W.photo, el("input", { type: "file", name: "photo", accept: "image/*", capture: "environment" })));
      }
      for (const [step, kind] of NEXT[t.state] || []) {
        card.append(el("button", { type: "button", class: kind, "data-step": step, onclick: (e) => act(t, step, card, e.target) }, LABEL[step]));
      }
      // The phone's own map app takes a geo: address.
      if (t.lat !== null) card.append(el("a", { class: "button second", href: `geo:${t.lat},${t.lon}?q=${t.lat},${t.lon}` }, W.map));
      box.append(card);
    }
    tick();
  }

  function tick() {
    for (const c of document.querySelectorAll(".countdown")) {
      const left = Math.max(0, Math.round((new Date(c.dataset.deadline) - Date.now()) / 1000));
      c.textContent = fmt(W.left, { s: left });
    }
  }

  // A photo from the phone's camera, made small enough to send over a weak connection.
  function shrink(file) {
    return new Promise((resolve, reject) => {
      const img = new Image();
      img.onload = () => {
        const scale = Math.min(1, 1280 / Math.max(img.width, img.height));
        const canvas = document.createElement("canvas");
        canvas.width = Math.round(img.width * scale); canvas.height = Math.round(img.height * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(img.src);
        resolve(canvas.toDataURL("image/jpeg", 0.8).split(",")[1]);
      };
      img.onerror = reject;
      img.src = URL.createObjectURL(file);
    });
  }

  async function act(task, step, card, button) {
    button.disabled = true;
    const body = {};
    if (step === "resolve") {
      body.note = card.querySelector("textarea").value.trim() || null;
      const file = card.querySelector("input[type=file]").files[0];
      if (file) body.photo = await shrink(file);
    }
    try {
      const got = await api(`/tasks/${task.id}/${step}`, body);
      if (!got.ok) notice(fmt(W.failed, { reason: got.data?.detail || got.status }), true);
      else notice(W[got.data.state] || "");
      if (got.ok && step === "resolve") loadMe();  // service hours grew
    } catch (_e) { notice(W.offline, true); }
    button.disabled = false;
  }

  function listen() {
    const stream = new EventSource("/api/v1/patrol/my-tasks/stream");
    stream.addEventListener("tasks", (event) => {
      setOnline(true);
      state.tasks = JSON.parse(event.data);
      const fresh = state.tasks.filter((t) => t.state === "offered" && !state.seen.has(t.id));
      for (const t of state.tasks) state.seen.add(t.id);
      renderTasks();
      if (fresh.length) { alert_(); notice(W.new_task); }
    });
    stream.onerror = () => setOnline(false);
  }

  // Where I am, for dispatch to the nearest responder: while the page is open, every minute.
  async function report() {
    const pos = await position();
    if (pos) { try { await api("/position", pos); } catch (_e) { /* next time */ } }
  }

  // Logging out of a shared phone leaves nothing of this user behind; check-ins still waiting
  // are sent first, and a logout without network waits until they are.
  async function logout(event) {
    event.preventDefault();
    if (queued().length) await flush();
    if (queued().length) { notice(fmt(W.pending, { n: queued().length }), true); return; }
    for (const key of [QUEUE, ME, "pingan.run"]) localStorage.removeItem(key);
    if (window.caches) for (const name of await caches.keys()) await caches.delete(name);
    event.target.submit();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    document.querySelector("form[action='/logout']").addEventListener("submit", logout);
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
    keep(queued());
    window.addEventListener("online", () => { setOnline(true); flush(); });
    window.addEventListener("offline", () => setOnline(false));
    await loadMe();
    listen();
    setInterval(tick, 1000);
    setInterval(() => { if (queued().length) flush(); }, 15000);
    report();
    setInterval(report, 60000);
    // A checkpoint's code opened this page (/m/?t=…): check in, and tidy the address.
    const code = new URLSearchParams(location.search).get("t");
    if (code) {
      history.replaceState(null, "", "/m/");
      await checkIn(code);
    } else if (queued().length) {
      flush();
    }
  });
})();
