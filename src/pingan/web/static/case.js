// The reporter's own case: their check of work reported done, and their rating of a closed case.
"use strict";
(() => {
  const data = JSON.parse(document.getElementById("case").textContent);
  const base = `/api/v1/public/incidents/${encodeURIComponent(data.token)}`;
  for (const el of document.querySelectorAll("time[datetime]")) {
    const at = new Date(el.getAttribute("datetime"));
    el.textContent = at.toLocaleString(document.documentElement.lang, { timeZone: "Asia/Shanghai", hour12: false });
  }
  async function send(path, body) {
    const r = await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (r.ok) { location.reload(); return; }
    const problem = await r.json().catch(() => ({}));
    const notice = document.getElementById("notice");
    notice.textContent = problem.detail || r.statusText;
    notice.classList.add("bad");
    notice.hidden = false;
  }
  for (const button of document.querySelectorAll("#check [data-fixed]")) {
    button.addEventListener("click", () => send("/check", { rating: "fair", fixed: button.dataset.fixed === "true" }));
  }
  const rate = document.getElementById("rate");
  for (const button of document.querySelectorAll("#rate [data-rating]")) {
    button.addEventListener("click", () => send("/rating", {
      rating: button.dataset.rating,
      fixed: !rate.querySelector("[name=not_fixed]").checked,
      note: rate.querySelector("[name=note]").value.trim() || null,
    }));
  }
})();
