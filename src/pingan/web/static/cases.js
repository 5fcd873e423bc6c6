// The officers' phone list: open cases, overdue first, then the nearest (by the phone's own
// position); take one, report it done with a photo, or check one reported done.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const W = JSON.parse($("words").textContent);
  const cases = JSON.parse($("data").textContent);
  const fmt = (text, values) => text.replace(/\{(\w+)\}/g, (_m, k) => values[k]);
  let here = null;

  function metres(c) {
    if (!here) return null;
    const k = Math.PI / 180 * 6371000;
    const dx = (c.lon - here.lon) * k * Math.cos(here.lat * Math.PI / 180);
    const dy = (c.lat - here.lat) * k;
    return Math.round(Math.hypot(dx, dy));
  }

  async function act(c, action, photo) {
    const body = new FormData();
    body.append("move", JSON.stringify({ action, version: c.version }));
    if (photo) body.append("photos", photo, "after.jpg");
    const r = await fetch(`/api/v1/incidents/${c.id}/actions`, { method: "POST", body });
    if (r.ok) { location.reload(); return; }
    const problem = await r.json().catch(() => ({}));
    $("notice").textContent = problem.detail || r.statusText;
    $("notice").classList.add("bad");
    $("notice").hidden = false;
  }

  function show() {
    const sorted = [...cases].sort((a, b) => (b.overdue - a.overdue) || ((metres(a) ?? 0) - (metres(b) ?? 0)) || a.priority - b.priority);
    if (!sorted.length) return;
    $("cases").replaceChildren(...sorted.map((c) => {
      const card = document.createElement("div");
      card.className = "card" + (c.overdue ? " offered" : "");
      const title = document.createElement("h2");
      title.textContent = `#${c.id} ${c.kind}`;
      const meta = document.createElement("p");
      meta.className = "meta";
      const far = metres(c);
      meta.textContent = [W.states[c.state], c.overdue ? W.overdue : null, far !== null ? fmt(W.distance, { m: far }) : null, c.address].filter(Boolean).join(" · ");
      const text = document.createElement("p");
      text.textContent = c.description;
      card.append(title, meta, text);
      for (const action of c.actions) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = W.actions[action];
        button.className = action === "not_fixed" ? "second" : "go";
        if (action === "done") {
          const input = document.createElement("input");
          input.type = "file";
          input.accept = "image/*";
          input.capture = "environment";
          input.hidden = true;
          input.addEventListener("change", () => input.files[0] && act(c, "done", input.files[0]));
          button.addEventListener("click", () => input.click());
          card.append(input);
        } else {
          button.addEventListener("click", () => act(c, action));
        }
        card.append(button);
      }
      return card;
    }));
  }

  show();
  if (navigator.geolocation) {
    navigator.geolocation.getCurrentPosition((p) => { here = { lon: p.coords.longitude, lat: p.coords.latitude }; show(); }, () => {}, { timeout: 10000 });
  }
})();
