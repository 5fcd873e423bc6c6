// The device register: registering a device (its position clicked on the map) and a device's
// credentials, shown once; everything is written through the devices API.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const message = (form, text) => {
    const box = (form && form.querySelector(".error")) || document.getElementById("message");
    if (box) box.textContent = text || "";
  };
  const send = async (url, method, data) => {
    const response = await fetch(url, {
      method, headers: { "Content-Type": "application/json" },
      body: data === undefined ? null : JSON.stringify(data),
    });
    const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body };
  };

  // --- register ---
  const form = document.getElementById("new-device");
  if (form) {
    const f = form.elements;
    const dc09 = form.querySelector(".dc09");
    const showDc09 = () => { dc09.hidden = f.protocol.value !== "dc09"; f.sia_account.required = !dc09.hidden; };
    f.protocol.addEventListener("change", showDc09);
    showDc09();
    const box = document.getElementById("device-map");
    if (box && window.L) {
      const map = L.map(box, { attributionControl: false });
      pingan.baseMap(map);
      let marker = null;
      const place = (latlng) => {
        if (marker) marker.setLatLng(latlng); else marker = L.marker(latlng).addTo(map);
        f.lon.value = latlng.lng.toFixed(6);
        f.lat.value = latlng.lat.toFixed(6);
        document.getElementById("position").textContent = `${f.lon.value}, ${f.lat.value}`;
      };
      const centre = () => {
        const option = f.node_id.selectedOptions[0];
        if (option && option.dataset.lat) map.setView([Number(option.dataset.lat), Number(option.dataset.lon)], 18);
      };
      fetch(pingan.layerUrl("/api/v1/map/boundaries")).then((r) => r.json()).then((data) => {
        const layer = L.geoJSON(data, { style: { color: "#0b3d91", weight: 1, fillOpacity: 0.04 } }).addTo(map);
        if (layer.getBounds().isValid()) map.fitBounds(layer.getBounds()); else map.setView([30.68, 103.8], 15);
        centre();
        return fetch(pingan.layerUrl("/api/v1/map/sites")).then((r) => r.json());
      }).then((sites) => {
        // The compounds as dots with their names: where a device goes is seen at a glance.
        L.geoJSON(sites, {
          pointToLayer: (feature, at) => L.circleMarker(at, { radius: 5, color: "#2b8a3e", fillOpacity: 0.8 })
            .bindTooltip(feature.properties.name, { permanent: false }),
        }).addTo(map);
      });
      f.node_id.addEventListener("change", centre);
      map.on("click", (event) => place(event.latlng));
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = {
        name: f.name.value.trim(), code: f.code.value.trim(), kind: f.kind.value, protocol: f.protocol.value,
        node_id: Number(f.node_id.value), location: f.location.value.trim() || null, vendor: f.vendor.value.trim() || null,
        lon: f.lon.value ? Number(f.lon.value) : null, lat: f.lat.value ? Number(f.lat.value) : null,
        crs: pingan.crs,  // clicked on the base map, in its coordinates
      };
      if (f.protocol.value === "dc09") {
        data.sia_account = f.sia_account.value.trim();
        if (f.sia_key.value) data.sia_key = f.sia_key.value;
      }
      const result = await send("/api/v1/devices", "POST", data);
      if (result.ok) window.location.href = `/devices/${result.body.id}`;
      else message(form, result.body.detail || result.status);
    });
  }

  // --- one device ---
  const secret = document.getElementById("secret");
  for (const button of document.querySelectorAll("button[data-credential]")) {
    button.addEventListener("click", async () => {
      const result = await send(button.dataset.credential, "POST");
      if (!result.ok) { message(null, result.body.detail || result.status); return; }
      const b = result.body;
      document.getElementById("secret-value").textContent = b.token
        ? `Authorization: Bearer ${b.token}`
        : `${b.username} / ${b.password}\n\n# /etc/mosquitto/passwd\n${b.password_line}`;
      secret.hidden = false;
    });
  }
  for (const button of document.querySelectorAll("button[data-enable]")) {
    button.addEventListener("click", async () => {
      const result = await send(button.dataset.url, "PATCH", { enabled: button.dataset.enable === "true" });
      if (result.ok) window.location.reload(); else message(null, result.body.detail || result.status);
    });
  }
  const dc09 = document.getElementById("dc09");
  if (dc09) {
    dc09.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = dc09.elements;
      const data = { sia_account: f.sia_account.value.trim(), sia_key_hex: f.sia_key_hex.checked };
      if (f.sia_key.value) data.sia_key = f.sia_key.value;
      const result = await send(dc09.dataset.url, "PATCH", data);
      if (result.ok) window.location.reload(); else message(null, result.body.detail || result.status);
    });
  }
});
