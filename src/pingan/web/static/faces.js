// Face consent and enrolment forms: they call the API and show its answer, reasons included.
"use strict";
(() => {
  const message = document.getElementById("message");

  async function call(url, options) {
    const response = await fetch(url, options);
    if (response.status === 204) return {};
    const data = await response.json();
    if (!response.ok) { message.textContent = data.detail; throw new Error(data.detail); }
    message.textContent = "";
    return data;
  }
  const json = (body) => ({ method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

  // A resident's own consent, or one recorded by staff (with scope, method, guardian).
  const consent = document.getElementById("consent");
  if (consent) consent.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries([...new FormData(consent)].filter(([, v]) => v !== ""));
    body.central_storage = consent.elements.central_storage.checked;
    if (body.node_id) body.node_id = Number(body.node_id);
    await call(consent.dataset.url || "/api/v1/me/face-consents", json(body));
    location.reload();
  });

  for (const button of document.querySelectorAll("[data-withdraw]")) {
    button.addEventListener("click", async () => {
      await call(`/api/v1/face-consents/${button.dataset.withdraw}/withdraw`, json({}));
      location.reload();
    });
  }

  const photos = document.getElementById("photos");
  if (photos) photos.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answer = await call(photos.dataset.url, { method: "POST", body: new FormData(photos) });
    const list = document.getElementById("results");
    list.innerHTML = "";
    for (const r of answer.results) {
      const li = document.createElement("li");
      li.className = r.accepted ? "ok" : "refused";
      li.textContent = `${r.photo}: ${r.accepted ? "✓" : r.reason}`;
      list.appendChild(li);
    }
    if (answer.results.some((r) => r.accepted)) setTimeout(() => location.reload(), 1500);
  });

  const remove = document.getElementById("delete-templates");
  if (remove) remove.addEventListener("click", async () => {
    await call(remove.dataset.url, { method: "DELETE" });
    location.reload();
  });

  const credential = document.getElementById("credential");
  if (credential) credential.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = Object.fromEntries(new FormData(credential));
    if (body.expires_at) body.expires_at = new Date(body.expires_at).toISOString(); else delete body.expires_at;
    body.node_id = Number(body.node_id);
    await call(credential.dataset.url, json(body));
    location.reload();
  });
  for (const button of document.querySelectorAll("[data-revoke]")) {
    button.addEventListener("click", async () => {
      await call(`/api/v1/credentials/${button.dataset.revoke}/revoke`, { method: "POST" });
      location.reload();
    });
  }
})();
