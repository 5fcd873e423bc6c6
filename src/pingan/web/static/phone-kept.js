// What the phone pages share for work made with no network: photos scaled down on the phone,
// and a queue in IndexedDB (photos included) that waits for the network.
"use strict";
window.phoneKept = (() => {
  // A 12-megapixel photo is 4 MB; 2048 px is plenty (the platform re-encodes it anyway).
  async function shrink(file) {
    try {
      const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
      const scale = Math.min(1, 2048 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return await new Promise((done) => canvas.toBlob(done, "image/jpeg", 0.85));
    } catch (_e) {
      return file;  // sent as it is
    }
  }

  // A queue of things to send, kept across closing the page: keep, drop, all (oldest first).
  function queue(name) {
    const open = () => new Promise((done, fail) => {
      const request = indexedDB.open(name, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("queue", { autoIncrement: true });
      request.onsuccess = () => done(request.result);
      request.onerror = () => fail(request.error);
    });
    async function write(work) {
      const base = await open();
      return new Promise((done, fail) => {
        const tx = base.transaction("queue", "readwrite");
        const result = work(tx.objectStore("queue"));
        tx.oncomplete = () => done(result.result);
        tx.onerror = () => fail(tx.error);
      });
    }
    async function all() {
      const base = await open();
      return new Promise((done) => {
        const items = [];
        const cursor = base.transaction("queue").objectStore("queue").openCursor();
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (!c) { done(items); return; }
          items.push({ key: c.key, value: c.value });
          c.continue();
        };
      });
    }
    return { keep: (item) => write((s) => s.add(item)), drop: (key) => write((s) => s.delete(key)), all };
  }

  return { shrink, queue };
})();
