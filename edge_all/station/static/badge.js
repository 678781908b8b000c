// The header's "capturing ..." badge: gone as soon as the capture ends, without a reload.
// On New slide the live view already polls and says so (a "capture-state" event); elsewhere this polls.
"use strict";
(() => {
  const badge = document.getElementById("capture-badge");
  if (!badge) return;
  const update = (s) => {
    badge.hidden = !s.active;
    if (s.active) badge.textContent = `capturing ${s.sample_id}`;
  };
  if (document.getElementById("live")) {
    document.addEventListener("capture-state", (event) => update(event.detail));
    return;
  }
  async function poll() {
    try {
      const response = await fetch(badge.dataset.stateUrl, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) {
        const s = await response.json();
        update(s);
        if (!s.active) return; // ended: nothing more to watch on this page
      }
    } catch (error) {
      // The network dropped: try again at the next tick.
    }
    setTimeout(poll, 2000);
  }
  setTimeout(poll, 2000);
})();
