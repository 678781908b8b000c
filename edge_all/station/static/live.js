// New slide: watch the capture that runs in the station (it goes on if this page closes).
// Polls /capture/state once a second and fills in the page; text only (textContent), never HTML.
"use strict";
(() => {
  const live = document.getElementById("live");
  if (!live) return;
  const $ = (id) => document.getElementById(id);
  const pct = (x) => (x === null || x === undefined ? "" : `${Math.round(100 * x)}%`);

  function result(last) {
    if (!last) return "";
    switch (last.status) {
      case "classified": return `${last.label} ${pct(last.confidence)}`;
      case "uncertain": return `uncertain: refer to a specialist (best guess ${last.label} ${pct(last.confidence)})`;
      case "referred": return `referred: ${last.reason || "unlike the training images"}`;
      case "rejected": return `rejected: ${last.reason}`;
      default: return `error: ${last.reason}`;
    }
  }

  function thumb(id) {
    const link = document.createElement("a");
    link.href = `/field/${id}/image`;
    const img = document.createElement("img");
    img.src = `/field/${id}/image-thumb`;
    img.alt = `field ${id}`;
    link.appendChild(img);
    return link;
  }

  function render(s) {
    $("live-sample").textContent = s.sample_id || "none yet";
    $("live-state").textContent = s.state;
    $("live-frames").textContent = String(s.frames);
    $("start-form").hidden = s.active;
    $("stop-form").hidden = !s.active;
    const sample = s.sample;
    $("live-call").textContent = sample ? sample.call : "no fields yet";
    $("live-counts").textContent = sample
      ? `${sample.fields} fields on the slide: ${sample.good} good, ${sample.all_like} ALL-like, ` +
        `${sample.uncertain} uncertain, ${sample.referred} referred, ${sample.rejected} rejected, ${sample.errors} errors`
      : "";
    $("live-outcome").textContent = s.outcome || "";
    $("live-outcome").className = s.ok === false ? "error" : "";
    const last = s.last;
    $("live-result").textContent = result(last);
    $("live-quality").textContent = last
      ? Object.entries(last.quality).map(([k, v]) => `${k} ${Number(v).toFixed(1)}`).join(" ")
      : "";
    $("live-unfamiliarity").textContent =
      last && last.unfamiliarity !== null ? Number(last.unfamiliarity).toFixed(2) : "not measured";
    const picture = $("live-thumb");
    if (last && last.has_image) {
      const src = `/field/${last.id}/image-thumb`;
      if (picture.getAttribute("src") !== src) picture.src = src;
      picture.hidden = false;
    }
    const strip = $("live-recent");
    const shown = Array.from(strip.querySelectorAll("img")).map((img) => img.alt).join();
    if (shown !== s.recent.map((id) => `field ${id}`).join()) {
      strip.replaceChildren(...s.recent.map(thumb));
    }
    $("live-notices").replaceChildren(...s.notices.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
  }

  async function poll() {
    try {
      const response = await fetch(live.dataset.stateUrl, { cache: "no-store", credentials: "same-origin" });
      if (response.ok) render(await response.json());
    } catch (error) {
      // The network dropped: the capture goes on in the station; try again at the next tick.
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
