// Notification channels: added, tried, switched off and removed through the channels API.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const list = (text) => text.split(/[,，、;；\s]+/).map((s) => s.trim()).filter(Boolean);
  const message = document.getElementById("message");
  const call = async (url, method, data) => {
    const response = await fetch(url, {
      method, headers: { "Content-Type": "application/json" },
      body: data === undefined ? null : JSON.stringify(data),
    });
    const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body };
  };
  const form = document.getElementById("new-channel");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const result = await call("/api/v1/notification-channels", "POST", {
      key: f.key.value.trim(), name: f.name.value.trim(), type: f.type.value,
      url: f.url.value.trim() || null, secret: f.secret.value || null,
      to: list(f.to.value), mention: list(f.mention.value),
      every_alarm: f.every_alarm.checked, responders: f.responders.checked,
    });
    if (result.ok) window.location.reload();
    else form.querySelector(".error").textContent = result.body.detail || result.status;
  });
  for (const button of document.querySelectorAll("button[data-test]")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const result = await call(`/api/v1/notification-channels/${button.dataset.test}/test`, "POST");
      button.disabled = false;
      const cell = button.closest("tr").querySelector(".test-result");
      cell.textContent = result.ok ? `${result.body.ok ? "✓" : "✗"} ${result.body.result}` : (result.body.detail || result.status);
      cell.classList.toggle("error", !(result.ok && result.body.ok));
    });
  }
  for (const button of document.querySelectorAll("button[data-toggle]")) {
    button.addEventListener("click", async () => {
      const result = await call(`/api/v1/notification-channels/${button.dataset.toggle}`, "PATCH",
        { enabled: button.dataset.enabled === "true" });
      if (result.ok) window.location.reload(); else message.textContent = result.body.detail || result.status;
    });
  }
  for (const button of document.querySelectorAll("button[data-remove]")) {
    button.addEventListener("click", async () => {
      if (!window.confirm(button.dataset.confirm)) return;
      const result = await call(`/api/v1/notification-channels/${button.dataset.remove}`, "DELETE");
      if (result.ok) window.location.reload(); else message.textContent = result.body.detail || result.status;
    });
  }
});
