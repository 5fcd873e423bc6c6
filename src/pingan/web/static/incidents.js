// The incident desk: J/K move through the cases, Enter opens one; a row opens on a click too.
"use strict";
(() => {
  const rows = [...document.querySelectorAll("#incidents tbody tr")];
  let at = -1;
  function select(i) {
    if (!rows.length) return;
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, n) => r.classList.toggle("selected", n === at));
    rows[at].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    if (key === "j") select(at + 1);
    else if (key === "k") select(at - 1);
    else if (key === "enter" && at >= 0) location.href = rows[at].dataset.href;
  });
  for (const row of rows) {
    row.addEventListener("click", (e) => { if (!e.target.closest("a")) location.href = row.dataset.href; });
  }
})();
