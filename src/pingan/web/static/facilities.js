// Physical defence in the console: the desk's map of sites coloured by completeness, and on a
// site's sheet the register entry dialog and the protection level, both through the API.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const words = JSON.parse($("words").textContent);

  const community = $("community");
  if (community) community.addEventListener("change", () => community.form.submit());

  // --- the desk's map -----------------------------------------------------------------------------
  const box = $("facility-map");
  if (box && window.L) {
    const map = L.map(box, { attributionControl: false, preferCanvas: true });
    pingan.baseMap(map);
    const within = box.dataset.community ? `within=${box.dataset.community}` : "";
    const url = pingan.layerUrl(`/api/v1/map/facilities${within ? "?" + within : ""}`);
    fetch(url).then((r) => r.json()).then((data) => {
      const layer = pingan.facilityLayer(data, words).addTo(map);
      if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds(), { padding: [20, 20] });
      else map.setView([30.70, 103.80], 14);
      box.dataset.loaded = "yes";
    });
  }

  // --- a site's sheet: the level and one register entry -----------------------------------------
  const level = $("level");
  if (level) {
    level.addEventListener("submit", async (event) => {
      event.preventDefault();
      const r = await fetch(`/api/v1/facilities/sites/${level.dataset.site}/level`, {
        method: "PUT", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ level: Number(level.elements.level.value) }),
      });
      if (r.ok) window.location.reload();
    });
  }
  const dialog = $("entry");
  if (!dialog) return;
  const form = $("entry-form");
  let code = null;
  for (const button of document.querySelectorAll("button.edit")) {
    button.addEventListener("click", () => {
      code = button.dataset.code;
      form.reset();
      $("entry-name").textContent = words.items[code] || code;
      $("entry-count").hidden = !button.dataset.counted;
      $("entry-message").textContent = "";
      dialog.showModal();
    });
  }
  $("entry-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const entry = { status: form.elements.status.value };
    if (form.elements.count.value !== "" && !$("entry-count").hidden) entry.count = Number(form.elements.count.value);
    const note = form.elements.note.value.trim();
    if (note) entry.note = note;
    const body = new FormData();
    body.append("item", JSON.stringify(entry));
    for (const file of form.elements.photos.files) body.append("photos", file);
    const r = await fetch(`/api/v1/facilities/sites/${form.dataset.site}/items/${encodeURIComponent(code)}`, { method: "PUT", body });
    if (r.ok) { window.location.reload(); return; }
    const problem = await r.json().catch(() => ({}));
    $("entry-message").textContent = words.failed.replace("{reason}", problem.detail || r.statusText);
  });
})();
