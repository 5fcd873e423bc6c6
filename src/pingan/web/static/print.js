// The code sheet's print button (a file, not an inline handler: the pages' CSP).
document.querySelector("[data-print]")?.addEventListener("click", () => window.print());
