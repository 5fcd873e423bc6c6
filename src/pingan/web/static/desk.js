// The alarm desk: the list the server rendered, kept current by the live stream.
"use strict";
(() => {
  const labels = JSON.parse(document.getElementById("labels").textContent);
  const body = document.querySelector("#alarms tbody");
  const empty = document.getElementById("empty");
  const live = document.getElementById("live");
  const message = document.getElementById("message");
  const alarms = new Map();
  const OPEN = new Set(["raised", "acknowledged", "dispatched", "on_scene"]);
  const KEYS = { a: "acknowledge", d: "dispatch", r: "resolve", f: "false_alarm" };
  let selected = null;

  const shanghai = new Intl.DateTimeFormat(document.documentElement.lang, {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

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

  function render(alarm) {
    let row = body.querySelector(`tr[data-id="${alarm.id}"]`);
    if (!OPEN.has(alarm.state) || alarm.level < labels.desk_level) {
      if (row) row.remove();
      alarms.delete(alarm.id);
      return refreshEmpty();
    }
    alarms.set(alarm.id, alarm);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.id = alarm.id;
    }
    if (!row.dataset.bound) {
      row.dataset.bound = "1";
      row.addEventListener("click", () => select(row));
    }
    row.dataset.state = alarm.state;
    row.innerHTML = "";
    const cells = [
      `<span class="badge p${alarm.priority}">P${alarm.priority}</span>`,
      escapeHtml(alarm.title) + (alarm.restored ? ` <small>(${labels.restored})</small>` : ""),
      labels.states[alarm.state] || alarm.state,
      shanghai.format(new Date(alarm.raised_at)),
      String(alarm.count),
    ];
    for (const html of cells) { const td = document.createElement("td"); td.innerHTML = html; row.appendChild(td); }
    const actions = document.createElement("td");
    for (const action of labels.moves[alarm.state] || []) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = labels.actions[action];
      b.dataset.action = action;
      b.addEventListener("click", () => act(alarm.id, action));
      actions.appendChild(b);
    }
    row.appendChild(actions);
    place(row, alarm);
    refreshEmpty();
    return row;
  }

  function place(row, alarm) {
    // Highest priority first, newest first within a priority.
    const rows = [...body.querySelectorAll("tr")].filter((r) => r !== row);
    const before = rows.find((r) => {
      const other = alarms.get(Number(r.dataset.id));
      return other && (other.priority > alarm.priority ||
        (other.priority === alarm.priority && other.raised_at < alarm.raised_at));
    });
    body.insertBefore(row, before || null);
  }

  function refreshEmpty() { empty.hidden = alarms.size > 0; }
  function escapeHtml(s) { return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`); }

  function select(row) {
    if (selected) selected.classList.remove("selected");
    selected = row;
    if (row) row.classList.add("selected");
  }

  async function act(id, action) {
    const alarm = alarms.get(id);
    const response = await fetch(`/api/v1/alarms/${id}/actions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Language": document.documentElement.lang },
      body: JSON.stringify({ action, version: alarm ? alarm.version : null }),
    });
    const data = await response.json();
    if (!response.ok) {
      message.textContent = data.detail;  // e.g. someone else acknowledged it first
      const fresh = await fetch(`/api/v1/alarms/${id}`);
      if (fresh.ok) render(await fresh.json());
      return;
    }
    message.textContent = "";
    render(data);
  }

  document.addEventListener("keydown", (event) => {
    if (event.target.closest("input, textarea")) return;
    const rows = [...body.querySelectorAll("tr")];
    const index = selected ? rows.indexOf(selected) : -1;
    const key = event.key.toLowerCase();
    if (key === "j") select(rows[Math.min(rows.length - 1, index + 1)] || null);
    else if (key === "k") select(rows[Math.max(0, index - 1)] || null);
    else if (KEYS[key] && selected) {
      const alarm = alarms.get(Number(selected.dataset.id));
      if (alarm && (labels.moves[alarm.state] || []).includes(KEYS[key])) act(alarm.id, KEYS[key]);
    }
  });

  for (const alarm of JSON.parse(document.getElementById("initial").textContent)) render(alarm);

  function connect() {
    const stream = new EventSource("/api/v1/alarms/stream");
    stream.addEventListener("hello", () => { live.classList.remove("down"); live.title = ""; });
    stream.addEventListener("alarm", (event) => {
      const change = JSON.parse(event.data);
      const row = render(change.alarm);
      if (row && change.action === "raised" && change.alarm.priority === 1) {
        row.classList.add("flash");
        beep();
      }
    });
    stream.onerror = () => { live.classList.add("down"); live.title = live.dataset.offline; };
  }
  connect();
})();
