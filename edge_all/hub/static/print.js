// The report's Print button (no inline script: the Content-Security-Policy forbids it).
"use strict";
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});
