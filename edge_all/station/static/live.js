// New slide: watch the capture that runs in the station (it goes on if this page closes).
// Polls /capture/state once a second and fills in the page; text only (textContent), never HTML.
// The words come from the server (edge_all.station.words), so page and script say the same.
"use strict";
(() => {
  const live = document.getElementById("live");
  if (!live) return;
  const $ = (id) => document.getElementById(id);

  function thumb(id) {
    const link = document.createElement("a");
    link.href = `/field/${id}/image`;
    const img = document.createElement("img");
    img.src = `/field/${id}/image-thumb`;
    img.alt = `field ${id}`;
    link.appendChild(img);
    return link;
  }

  function label(words) {
    if (!words) return [];
    const span = document.createElement("span");
    span.className = `label ${words.tone}`;
    span.textContent = words.headline;
    return [span];
  }

  function render(s) {
    $("live-sample").textContent = s.sample_id || "none yet";
    $("live-state").textContent = s.state;
    $("live-frames").textContent = String(s.frames);
    $("live-frames-word").textContent = s.frames === 1 ? "field" : "fields";
    $("start-form").hidden = s.active;
    $("stop-form").hidden = !s.active;
    manual = s.active && s.mode === "manual";
    $("field-form").hidden = !manual;
    $("capture-field").textContent = manual && s.frames < s.asked ? "Taking the field…" : "Capture this field";
    document.dispatchEvent(new CustomEvent("capture-state", { detail: s }));
    $("live-call").textContent = s.words.call.headline;
    $("live-call-next").textContent = s.words.call.next_step;
    $("live-counts").textContent = s.words.counts;
    $("live-outcome").textContent = s.outcome || "";
    $("live-outcome").className = s.ok === false ? "error" : "";
    const words = s.words.field;
    $("live-result").replaceChildren(...label(words));
    $("live-meaning").firstChild.textContent = words ? words.meaning : "";
    const drift = s.last && s.last.drift;  // read with the site, and unlike its commissioning fields
    $("live-drift").textContent = drift || "";
    $("live-drift").hidden = !drift;
    $("live-next").firstElementChild.textContent = words ? words.next_step : "";
    $("live-quality").textContent = words ? words.quality : "";
    $("live-figures").textContent = words ? words.figures : "";
    const last = s.last;
    const picture = $("live-thumb");
    if (last && last.has_image) {
      const src = `/field/${last.id}/image-thumb`;
      if (picture.getAttribute("src") !== src) picture.src = src;
      picture.hidden = false;
    }
    // Its white cells' boxes and labels: the slide page's own drawing, served as a picture.
    const cells = $("live-cells");
    if (last && last.has_image && last.cells) {
      const src = `/field/${last.id}/cells.svg`;
      if (cells.getAttribute("src") !== src) cells.src = src;
      cells.hidden = false;
    } else {
      cells.hidden = true;
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

  // Capture this field: the button and the Space key, without a reload (the form still works alone).
  let manual = false;
  async function captureField() {
    const form = $("field-form");
    const response = await fetch(form.action, {
      method: "POST", body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" }, credentials: "same-origin",
    });
    if (response.ok) $("capture-field").textContent = "Taking the field…";
  }
  $("field-form").addEventListener("submit", (event) => {
    event.preventDefault();
    captureField();
  });
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest && event.target.closest("input, textarea, select, button, a");
    if (event.code !== "Space" || !manual || typing || event.repeat) return;
    event.preventDefault();
    captureField();
  });

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
