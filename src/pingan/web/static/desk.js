// The alarm desk: the list the server rendered, kept current by the live stream.
"use strict";
(() => {
  const labels = JSON.parse(document.getElementById("labels").textContent);
  const body = document.querySelector("#alarms tbody");
  const empty = document.getElementById("empty");
  const live = document.getElementById("live");
  const message = document.getElementById("message");
  const filters = document.getElementById("filters");
  const shown = document.getElementById("shown");
  const alarms = new Map();
  const OPEN = new Set(["raised", "acknowledged", "dispatched", "on_scene"]);
  const KEYS = { a: "acknowledge", d: "dispatch", r: "resolve", f: "false_alarm" };
  const communities = new Map(labels.communities.map((c) => [c.id, c.name]));
  const sites = new Map(labels.sites.map((s) => [s.id, s.name]));
  let selected = null;

  function beep() {
    try {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.4);
    } catch (e) { /* no sound device: the flash still shows */ }
  }

  // "/street/community/grid/site/…": the ids at depth 1 and 3.
  function placeOf(alarm) {
    const parts = (alarm.path || "").split("/").filter(Boolean).map(Number);
    return { community: parts[1], site: parts[3] };
  }

  function matches(alarm) {
    const f = Object.fromEntries(new FormData(filters));
    const where = placeOf(alarm);
    return (!f.community || where.community === Number(f.community)) &&
      (!f.site || where.site === Number(f.site)) &&
      (!f.category || alarm.category === f.category) &&
      (!f.state || alarm.state === f.state);
  }

  // The buttons an alarm offers: what may be done now, as the server says (a note is on its page).
  function movesOf(alarm) { return (alarm.actions || []).filter((a) => a !== "note"); }

  function render(change) {
    let row = body.querySelector(`tr[data-id="${change.id}"]`);
    const known = alarms.get(change.id);
    // An answer that arrives after a newer live update is stale: keep what is newer. What one
    // source lacks, the other has (the whole alarm is kept, its place included).
    if (known && known.version > change.version) return row;
    const alarm = known ? { ...known, ...change } : change;
    if (!OPEN.has(alarm.state) || alarm.level < labels.desk_level) {
      if (row) row.remove();
      alarms.delete(alarm.id);
      return refresh();
    }
    alarms.set(alarm.id, alarm);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.id = alarm.id;
      row.addEventListener("click", () => select(row));
    }
    row.dataset.state = alarm.state;
    row.dataset.acknowledged = String(alarm.acknowledged !== false);
    row.innerHTML = "";
    const where = placeOf(alarm);
    const place = [communities.get(where.community), sites.get(where.site)].filter(Boolean).join(" · ");
    const cells = [
      `<span class="badge p${alarm.priority}">P${alarm.priority}</span>`,
      `<a href="/alarms/${alarm.id}">${escapeHtml(pingan.headline(alarm, labels.titles))}</a>` +
        (alarm.restored ? ` <small>(${escapeHtml(labels.restored)})</small>` : ""),
      escapeHtml(place),
      escapeHtml(labels.states[alarm.state] || alarm.state) +
        (alarm.acknowledged === false && alarm.state !== "raised" ? ` <small class="unacked">${escapeHtml(labels.unacknowledged)}</small>` : ""),
      pingan.time(alarm.raised_at),
      String(alarm.count),
    ];
    for (const html of cells) { const td = document.createElement("td"); td.innerHTML = html; row.appendChild(td); }
    const actions = document.createElement("td");
    for (const action of movesOf(alarm)) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = labels.actions[action];
      b.dataset.action = action;
      b.addEventListener("click", (event) => { event.stopPropagation(); act(alarm.id, action); });
      actions.appendChild(b);
    }
    row.appendChild(actions);
    place_(row, alarm);
    refresh();
    return row;
  }

  function place_(row, alarm) {
    // Highest priority first, newest first within a priority.
    const rows = [...body.querySelectorAll("tr")].filter((r) => r !== row);
    const before = rows.find((r) => {
      const other = alarms.get(Number(r.dataset.id));
      return other && (other.priority > alarm.priority ||
        (other.priority === alarm.priority && other.raised_at < alarm.raised_at));
    });
    body.insertBefore(row, before || null);
  }

  function refresh() {
    let visible = 0;
    for (const row of body.querySelectorAll("tr")) {
      const alarm = alarms.get(Number(row.dataset.id));
      row.hidden = !(alarm && matches(alarm));
      if (!row.hidden) visible += 1;
    }
    if (selected && selected.hidden) select(null);
    empty.hidden = visible > 0;
    shown.textContent = labels.shown.replace("{n}", visible).replace("{total}", alarms.size);
  }

  function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`); }

  function select(row) {
    if (selected) selected.classList.remove("selected");
    selected = row;
    if (row) { row.classList.add("selected"); row.scrollIntoView({ block: "nearest" }); }
  }

  async function act(id, action) {
    const alarm = alarms.get(id);
    const result = await pingan.act(id, action, alarm ? alarm.version : null);
    message.textContent = result.error || "";  // e.g. someone else acknowledged it first
    if (result.alarm) render(result.alarm);
  }

  filters.addEventListener("change", (event) => {
    if (event.target.name === "community") {
      // Only the chosen community's sites in the site list.
      const site = filters.elements.site;
      for (const option of site.options) {
        option.hidden = Boolean(event.target.value && option.value && option.dataset.community !== event.target.value);
      }
      if (site.selectedOptions[0] && site.selectedOptions[0].hidden) site.value = "";
    }
    refresh();
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea, select") || event.altKey || event.ctrlKey || event.metaKey) return;
    const rows = [...body.querySelectorAll("tr")].filter((r) => !r.hidden);
    const index = selected ? rows.indexOf(selected) : -1;
    const key = event.key.toLowerCase();
    if (key === "j") select(rows[Math.min(rows.length - 1, index + 1)] || null);
    else if (key === "k") select(rows[Math.max(0, index - 1)] || null);
    else if (key === "enter" && selected) window.location.href = `/alarms/${selected.dataset.id}`;
    else if (KEYS[key] && selected) {
      const alarm = alarms.get(Number(selected.dataset.id));
      if (alarm && movesOf(alarm).includes(KEYS[key])) act(alarm.id, KEYS[key]);
    }
  });

  for (const alarm of JSON.parse(document.getElementById("initial").textContent)) render(alarm);
  refresh();

  pingan.alarmStream((change) => {
    const row = render(change.alarm);
    if (row && !row.hidden && change.action === "raised" && change.alarm.priority === 1) {
      row.classList.add("flash");
      beep();
    }
  }, live);
})();
