// The volunteer's phone: signing up, then — with the key kept on this phone — their own page:
// hours and level, activities to sign up for, check-in and check-out on the spot by the
// activity's code (with the phone's position where it gives one).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const words = JSON.parse($("words").textContent);
  const KEY = "pingan.volunteer.key";
  const notice = $("notice");
  const say = (text, bad) => { notice.textContent = text; notice.classList.toggle("bad", !!bad); notice.hidden = false; };
  const problem = async (r) => ((await r.json().catch(() => ({}))).detail || r.statusText);
  const time = (at) => new Date(at).toLocaleString(document.documentElement.lang, { timeZone: "Asia/Shanghai", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
  const api = (path, init = {}) => fetch(`/api/v1/public/volunteers${path}`, {
    ...init, headers: { ...(init.headers || {}), "X-Volunteer-Key": localStorage.getItem(KEY) || "" },
  });
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text) e.textContent = text; if (cls) e.className = cls; return e; };

  function join() { $("join").hidden = false; $("mine").hidden = true; }

  async function show(fresh) {
    const r = await api("/me");
    if (r.status === 404) { localStorage.removeItem(KEY); join(); return; }
    if (!r.ok) { say(await problem(r), true); return; }
    const page = await r.json();
    const v = page.volunteer;
    $("join").hidden = true; $("mine").hidden = false;
    $("h-mine").textContent = v.name;
    $("programme").textContent = page.programme;
    $("community").textContent = page.community;
    $("state").textContent = words.states[v.state] || v.state;
    $("hours").textContent = words.hours.replace("{h}", v.hours);
    $("split").textContent = `(${page.hours_activities} + ${page.hours_patrol})`;
    $("level").textContent = v.level || words.none;
    $("next").textContent = page.next_level
      ? words.next.replace("{level}", page.next_level.name).replace("{h}", (page.next_level.hours - v.hours).toFixed(1)) : "";
    if (fresh) {
      $("key-note").hidden = false; $("key-words").textContent = words.key_saved; $("key").textContent = localStorage.getItem(KEY);
    }
    const serving = v.state === "confirmed";
    $("check").hidden = !serving;
    if (!serving) say(words.pending);
    const mine = new Map(page.attendances.map((a) => [a.activity_id, a]));
    const coming = $("coming");
    coming.replaceChildren();
    $("coming-box").hidden = !page.activities.length;
    for (const a of page.activities) {
      const card = el("div", "", "card");
      card.append(el("h2", a.title), el("p", `${time(a.starts_at)} – ${time(a.ends_at)} · ${a.place}`, "meta"),
        el("p", `${words.kinds[a.kind] || a.kind}${a.capacity ? " · " + words.places.replace("{n}", a.capacity - a.signed_up) : ""}`, "meta"));
      const taken = mine.get(a.id);
      if (taken && taken.signed_up_at) card.append(el("p", words.signed, "meta"));
      else {
        const go = el("button", words.join, "second");
        go.type = "button";
        go.addEventListener("click", async () => {
          const j = await api(`/me/activities/${a.id}`, { method: "POST" });
          if (j.ok) await show(); else say(await problem(j), true);
        });
        card.append(go);
      }
      coming.append(card);
    }
    const done = $("done");
    done.replaceChildren();
    for (const a of page.attendances.slice().reverse()) {
      const line = el("div", "", "card");
      line.append(el("h2", a.activity), el("p", a.in_at ? words.checked_in.replace("{t}", time(a.in_at)) : words.signed, "meta"));
      if (a.out_at) line.append(el("p", words.checked_out.replace("{m}", a.minutes), "meta"));
      if (a.accepted === null && a.in_at) line.append(el("p", words.waiting.replace("{flags}", a.flags.map((f) => words.flags[f] || f).join(", ")), "meta"));
      if (a.accepted === false) line.append(el("p", words.refused, "meta"));
      done.append(line);
    }
    if (!page.attendances.length) done.append(el("p", words.none, "muted"));
  }

  $("sign-up").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    const body = { name: f.name.value.trim(), phone: f.phone.value.trim(), community_id: Number(f.community_id.value), programme_id: Number(f.programme_id.value) };
    const r = await fetch("/api/v1/public/volunteers", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) { say(await problem(r), true); return; }
    localStorage.setItem(KEY, (await r.json()).key);
    await show(true);
  });
  $("have-key").addEventListener("submit", async (event) => {
    event.preventDefault();
    localStorage.setItem(KEY, event.target.elements.key.value.trim());
    await show();
  });
  $("forget").addEventListener("click", () => { localStorage.removeItem(KEY); notice.hidden = true; join(); });

  // The phone's position, if it gives one within a few seconds (a check-in without one is kept,
  // flagged for the community).
  const where = () => new Promise((resolve) => {
    if (!navigator.geolocation) { resolve(null); return; }
    navigator.geolocation.getCurrentPosition((p) => resolve({ lon: p.coords.longitude, lat: p.coords.latitude }),
      () => resolve(null), { enableHighAccuracy: true, timeout: 8000, maximumAge: 60000 });
  });
  $("check").addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.value : "in";
    const at = await where();
    if (!at) say(words.no_position);
    const body = { code: event.target.elements.code.value.trim(), action, ...(at || {}) };
    const r = await api("/me/checks", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) { say(await problem(r), true); return; }
    const a = await r.json();
    say(a.accepted === null ? words.waiting.replace("{flags}", a.flags.map((f) => words.flags[f] || f).join(", "))
      : action === "in" ? words.in_done : words.out_done);
    await show();
  });

  if (localStorage.getItem(KEY)) show(); else join();
})();
