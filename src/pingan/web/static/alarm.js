// One alarm: its actions (only those its state allows), live changes, and where it is.
"use strict";
(() => {
  const labels = JSON.parse(document.getElementById("labels").textContent);
  let alarm = JSON.parse(document.getElementById("alarm").textContent);
  const form = document.getElementById("act");
  const buttons = document.getElementById("buttons");
  const message = document.getElementById("message");
  const KEYS = { a: "acknowledge", d: "dispatch", v: "arrive", r: "resolve", f: "false_alarm", c: "close", n: "note" };

  function show(next) {
    if (next.version < alarm.version) return false;  // an answer overtaken by a live update
    const moved = next.version !== alarm.version;
    alarm = { ...alarm, ...next };
    document.getElementById("state").textContent = labels.states[alarm.state] || alarm.state;
    document.getElementById("count").textContent = alarm.count;
    if (buttons) {
      buttons.innerHTML = "";
      for (const action of alarm.actions || ["note"]) {
        const b = document.createElement("button");
        b.type = "button";
        b.dataset.action = action;
        b.textContent = labels.actions[action];
        b.addEventListener("click", () => act(action));
        buttons.appendChild(b);
      }
    }
    return moved;
  }

  async function act(action) {
    const note = form.elements.note.value.trim();
    const result = await pingan.act(alarm.id, action, alarm.version, note);
    message.textContent = result.error || "";
    if (result.alarm) show(result.alarm);
    if (!result.error) { form.elements.note.value = ""; reloadTimeline(); }
  }

  async function reloadTimeline() {
    const response = await fetch(`/alarms/${alarm.id}`);
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.querySelector("#timeline tbody");
    if (fresh) {
      document.querySelector("#timeline tbody").replaceWith(fresh);
      pingan.localiseTimes(document.getElementById("timeline"));
    }
    const responders = page.getElementById("responders");
    if (responders) {
      document.getElementById("responders").replaceWith(responders);
      wireDispatch();
    }
  }

  // Offer the alarm to the nearest responder on duty, or to the one chosen; their steps then
  // arrive on the timeline.
  async function dispatchTo(button, memberId) {
    const dispatchButton = document.getElementById("dispatch");
    button.disabled = true;
    const response = await fetch(`/api/v1/patrol/alarms/${alarm.id}/dispatch`, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(memberId ? { member_id: memberId } : {}),
    });
    const data = await response.json().catch(() => null);
    message.textContent = !response.ok ? (data && data.detail) || response.status : data === null ? (dispatchButton ? dispatchButton.dataset.none : "") : "";
    button.disabled = false;
    reloadTimeline();
  }
  function wireDispatch() {
    const dispatchButton = document.getElementById("dispatch");
    if (dispatchButton) dispatchButton.addEventListener("click", () => dispatchTo(dispatchButton, null));
    for (const button of document.querySelectorAll(".dispatch-to")) {
      button.addEventListener("click", () => dispatchTo(button, Number(button.dataset.member)));
    }
  }
  wireDispatch();

  if (form) {
    show(alarm);
    document.addEventListener("keydown", (event) => {
      if (event.target.closest("input, textarea, select") || event.altKey || event.ctrlKey || event.metaKey) return;
      const action = KEYS[event.key.toLowerCase()];
      if (action && (alarm.actions || ["note"]).includes(action)) act(action);
    });
  }

  // Another operator's action shows here at once, and the buttons follow the new state.
  pingan.alarmStream((change) => {
    if (change.alarm.id !== alarm.id) return;
    show(change.alarm);
    reloadTimeline();  // every change is a new line, a responder's step included
  }, document.getElementById("live"));

  const box = document.getElementById("minimap");
  if (box && window.L) {
    const point = [Number(box.dataset.lat), Number(box.dataset.lon)];
    const map = L.map(box, { attributionControl: false }).setView(point, 17);
    pingan.baseMap(map);
    fetch(pingan.layerUrl("/api/v1/map/boundaries")).then((r) => r.json()).then((data) => {
      L.geoJSON(data, { style: { color: "#0b3d91", weight: 1, fillOpacity: 0.04 } }).addTo(map);
    });
    L.circleMarker(point, { radius: 10, color: "#c92a2a", fillOpacity: 0.8, className: "alarm-marker" }).addTo(map);
  }
})();
