// The administration pages: forms that call the API (accounts, roles, passwords); a generated
// password is shown once, in the page, never stored by it.
"use strict";
(() => {
  function body(form) {
    const f = form.elements;
    switch (form.dataset.kind) {
      case "user":
        return {
          username: f.username.value.trim(), display_name: f.display_name.value.trim(),
          phone: f.phone.value.trim() || null,
          roles: [{ role: f.role.value, node_id: Number(f.node_id.value) }],
        };
      case "role":
        return { role: f.role.value, node_id: Number(f.node_id.value) };
      case "active":
        return { is_active: form.dataset.active === "true" };
      case "password":
        return { current_password: f.current_password.value, new_password: f.new_password.value };
      default:
        return null;
    }
  }

  function showSecret(value, userId) {
    const box = document.getElementById("secret");
    if (!box) return;
    document.getElementById("secret-value").textContent = value;
    const link = document.getElementById("secret-user");
    if (link && userId) link.href = `/admin/users/${userId}`;
    box.hidden = false;
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const form of document.querySelectorAll("form[data-api]")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const error = form.querySelector(".error");
        error.textContent = "";
        if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
        const f = form.elements;
        if (form.dataset.kind === "password" && f.confirm.value !== f.new_password.value) {
          error.textContent = f.confirm.dataset.mismatch;
          return;
        }
        const data = body(form);
        const response = await fetch(form.dataset.api, {
          method: form.dataset.method || "POST",
          headers: { "Content-Type": "application/json" },
          body: data === null ? null : JSON.stringify(data),
        });
        if (!response.ok) {
          const problem = await response.json().catch(() => ({}));
          error.textContent = problem.detail || response.status;
          return;
        }
        if (form.dataset.kind === "password") { window.location.href = form.dataset.next || "/"; return; }
        const answer = response.status === 204 ? {} : await response.json();
        const secret = answer.first_password || answer.password;
        if (secret) {
          showSecret(secret, answer.id);
          form.reset();
          return;
        }
        window.location.reload();
      });
    }
    for (const button of document.querySelectorAll("button[data-delete]")) {
      button.addEventListener("click", async () => {
        const response = await fetch(button.dataset.delete, { method: "DELETE" });
        if (response.ok) window.location.reload();
        else button.after(` ${(await response.json().catch(() => ({}))).detail || response.status}`);
      });
    }
  });
})();
