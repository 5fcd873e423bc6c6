// The inspector's phone page: a site's checklist answered item by item, photos taken on the spot,
// sent to the platform — or, with no network, kept on the phone (photos included) and sent when
// the network is back. Each answer the platform finds failed opens a grid event there.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const read = (id) => JSON.parse($(id).textContent);
  const W = read("words");
  const SITES = read("sites");
  const ITEMS = read("checklist");
  const KINDS = read("kinds");
  const form = $("inspect");
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_m, k) => values[k]);
  const queue = phoneKept.queue("pingan-inspections");
  let photos = {};  // item code → downscaled JPEG blobs

  function notice(text, bad) {
    $("notice").textContent = text;
    $("notice").classList.toggle("bad", Boolean(bad));
    $("notice").hidden = false;
    $("notice").scrollIntoView({ block: "nearest" });
  }

  // --- the sites, late ones first -----------------------------------------------------------------
  const late = (s) => Object.values(s.due).some((d) => d.late);
  SITES.sort((a, b) => late(b) - late(a) || a.name.localeCompare(b.name));
  for (const site of SITES) {
    const label = `${site.name}${late(site) ? " · " + W.late : ""}`;
    form.elements.site.append(new Option(label, site.id));
  }
  if (!SITES.length) notice(W.none_due);
  const wanted = new URLSearchParams(location.search).get("site");
  if (wanted) form.elements.site.value = wanted;

  const site = () => SITES.find((s) => String(s.id) === form.elements.site.value);
  const items = () => {
    const chosen = site();
    const kind = KINDS.find((k) => k.code === form.elements.kind.value);
    if (!chosen || !kind) return [];
    return ITEMS.filter((i) => kind.groups.includes(i.group) && (!chosen.site_type || i.types.includes(chosen.site_type)));
  };

  // --- one fieldset an item ---------------------------------------------------------------------
  function draw() {
    photos = {};
    const box = $("items");
    box.replaceChildren();
    const chosen = site();
    const due = chosen && chosen.due[form.elements.kind.value];
    $("due").textContent = due ? fmt(W.due_on, { day: due.on }) + (due.late ? ` · ${W.late}` : "") : "";
    let group = null;
    for (const item of items()) {
      if (item.group !== group) {
        group = item.group;
        const h = document.createElement("h2");
        h.textContent = W.groups[group] || group;
        box.append(h);
      }
      const set = document.createElement("fieldset");
      set.className = "item";
      set.dataset.code = item.code;
      const legend = document.createElement("legend");
      legend.textContent = item.name;
      const hint = document.createElement("p");
      hint.className = "meta";
      hint.textContent = item.requirement;
      const choices = document.createElement("div");
      choices.className = "choices";
      for (const status of ["present", "missing", "broken", "na"]) {
        const label = document.createElement("label");
        label.className = `choice ${status}`;
        const radio = document.createElement("input");
        radio.type = "radio";
        radio.name = `s.${item.code}`;
        radio.value = status;
        radio.addEventListener("change", () => { set.dataset.status = status; shown(set); left(); });
        label.append(radio, " ", W.statuses[status]);
        choices.append(label);
      }
      set.append(legend, hint, choices);
      // Asked once a state is chosen: the count of what is there; for a failure, what is wrong
      // and its photo (its grid event carries them).
      const more = document.createElement("div");
      more.className = "more";
      more.hidden = true;
      const count = item.counted ? field(W.count, "count", "number") : null;
      if (count) count.classList.add("count");
      for (const f of item.fields) {
        let input;
        if (f.values.length) {
          input = document.createElement("select");
          input.multiple = f.datatype === "multivaluelist";
          if (!input.multiple) input.append(new Option("", ""));
          input.append(...f.values.map((v) => new Option(v.name, v.key)));
        } else {
          input = document.createElement("input");
          input.type = f.datatype === "number" ? "number" : f.datatype === "datetime" ? "date" : "text";
          if (input.type === "number") input.step = "any";
        }
        const label = document.createElement("label");
        label.textContent = f.description + " ";
        input.name = `f.${f.code}`;
        input.dataset.type = f.datatype;
        label.append(input);
        more.append(label);
      }
      more.append(field(W.note, "note", "text"));
      const camera = field(W.photo, "photo", "file");
      const input = camera.querySelector("input");
      input.accept = "image/*";
      input.capture = "environment";
      input.multiple = true;
      input.addEventListener("change", async () => {
        photos[item.code] = [];
        for (const file of [...input.files].slice(0, 3)) photos[item.code].push(await phoneKept.shrink(file));
      });
      more.append(camera);
      if (count) set.append(count);
      set.append(more);
      if (count) count.hidden = true;
      box.append(set);
    }
    $("all-present").hidden = !box.children.length;
    left();
  }
  function field(text, name, type) {
    const label = document.createElement("label");
    label.textContent = text + " ";
    const input = document.createElement("input");
    input.name = name;
    input.type = type;
    if (type === "number") input.min = "0";
    label.append(input);
    return label;
  }
  function shown(set) {
    const status = set.dataset.status;
    const count = set.querySelector("label.count");
    if (count) count.hidden = !status || status === "na";
    set.querySelector(".more").hidden = !["missing", "broken"].includes(status);
  }
  function unanswered() { return [...document.querySelectorAll("#items fieldset.item:not([data-status])")]; }
  function left() {
    const n = unanswered().length;
    $("left").hidden = n === 0;
    $("left").textContent = fmt(W.unanswered, { n });
  }
  $("all-present").addEventListener("click", () => {
    for (const set of unanswered()) {
      set.querySelector("input[value=present]").checked = true;
      set.dataset.status = "present";
      shown(set);
    }
    left();
  });
  form.elements.site.addEventListener("change", draw);
  form.elements.kind.addEventListener("change", draw);
  draw();

  // --- the inspection as the platform takes it ----------------------------------------------------
  function answers() {
    const sent = [];
    const out = [];
    for (const set of document.querySelectorAll("#items fieldset.item")) {
      const code = set.dataset.code;
      const answer = { code, status: set.dataset.status, details: {} };
      const count = set.querySelector("input[name=count]");
      if (count && count.value !== "") answer.count = Number(count.value);
      const note = set.querySelector("input[name=note]").value.trim();
      if (note) answer.note = note;
      for (const input of set.querySelectorAll("[name^='f.']")) {
        const key = input.name.slice(2);
        if (input.multiple) {
          const chosen = [...input.selectedOptions].map((o) => o.value);
          if (chosen.length) answer.details[key] = chosen;
        } else if (input.value !== "") {
          answer.details[key] = input.dataset.type === "number" ? Number(input.value) : input.value;
        }
      }
      answer.photos = (photos[code] || []).map((blob) => sent.push(blob) - 1);
      out.push(answer);
    }
    return { answers: out, photos: sent };
  }

  async function post(item) {
    const body = new FormData();
    body.append("inspection", JSON.stringify(item.data));
    item.photos.forEach((blob, i) => body.append("photos", blob, `photo${i + 1}.jpg`));
    return fetch("/api/v1/inspections", { method: "POST", body, credentials: "same-origin" });
  }

  let flushing = false;  // the network's return, the timer and a send may all ask at once
  async function flush() {
    if (flushing) return;
    flushing = true;
    try { await send(); } finally { flushing = false; }
    await showQueue();
  }
  async function send() {
    for (const { key, value } of await queue.all().catch(() => [])) {
      const r = await post(value).catch(() => null);
      if (!r) break;  // still no network
      await queue.drop(key);
      if (r.ok) {
        const done = await r.json();
        notice(fmt(W.sent, { failed: done.failed, opened: done.opened.length }));
      } else {
        const problem = await r.json().catch(() => ({}));
        notice(fmt(W.failed, { reason: problem.detail || r.statusText }), true);
      }
    }
  }
  async function showQueue() {
    const n = (await queue.all().catch(() => [])).length;
    $("queue").hidden = n === 0;
    $("queue").textContent = fmt(W.pending, { n });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (unanswered().length) { left(); $("left").scrollIntoView({ block: "nearest" }); return; }
    const { answers: given, photos: blobs } = answers();
    const data = {
      client_key: crypto.randomUUID ? crypto.randomUUID().replace(/-/g, "") : `${Date.now()}${Math.random()}`.replace(".", ""),
      site_id: Number(form.elements.site.value),
      kind: form.elements.kind.value,
      at: new Date().toISOString(),
      answers: given,
    };
    const note = form.elements.note.value.trim();
    if (note) data.note = note;
    const item = { data, photos: blobs };
    const r = await post(item).catch(() => null);
    if (r === null) {
      await queue.keep(item);
      notice(W.queued);
      form.reset();
      draw();
      await showQueue();
    } else if (r.ok) {
      const done = await r.json();
      notice(fmt(W.sent, { failed: done.failed, opened: done.opened.length }));
      form.reset();
      draw();
    } else {
      const problem = await r.json().catch(() => ({}));
      notice(fmt(W.failed, { reason: problem.detail || r.statusText }), true);
    }
  });

  const online = (on) => { $("net").hidden = on; if (on) flush(); };
  window.addEventListener("online", () => online(true));
  window.addEventListener("offline", () => online(false));
  online(navigator.onLine);
  showQueue();
  setInterval(() => { if (navigator.onLine) flush(); }, 15000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
    // Kept on the phone as it is now (its sites and checklist), to open with no network.
    if (navigator.onLine) navigator.serviceWorker.ready.then((r) => r.active && r.active.postMessage({ keep: location.pathname }));
  }
})();
