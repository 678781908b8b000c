// The review without a reload, on the slide page (its fields) and the cell gallery (its white cells):
// every review form is sent with fetch and the answer is shown in place (filters and scroll stay); and
// a keyboard review: j/k or the arrows move between cards (.review-cards article), each class has its
// key (shown beside it), 0 is "not assessable", Enter saves and moves on.
// Text only (textContent), never HTML. Without this script the forms still post and come back.
"use strict";
(() => {
  const cards = Array.from(document.querySelectorAll(".review-cards article"));
  const status = document.getElementById("review-status");
  let current = -1;

  const say = (text, bad = false) => {
    if (!status) return;
    status.textContent = text;
    status.className = bad ? "error" : "";
  };

  function shown(card, review) {
    const line = document.createElement("p");
    line.className = "review-shown";
    const what = document.createElement("strong");
    what.textContent = review.decision === card.dataset.label ? "confirmed" : `corrected to ${review.decision}`;
    line.append(what, ` by ${review.reviewer}, ${review.reviewed_at}`);
    if (review.comment) line.append(`: “${review.comment}”`);
    card.querySelector(".reviews-shown").append(line);
  }

  function shownForSlide(review) {
    let list = document.getElementById("sample-reviews");
    if (!list) {
      list = document.createElement("ul");
      list.className = "reviews";
      list.id = "sample-reviews";
      const form = document.getElementById("sample-review-form");
      form.before(list);
      const none = Array.from(form.parentElement.querySelectorAll("p")).find((p) => p.textContent === "Not reviewed yet.");
      if (none) none.remove();
    }
    const item = document.createElement("li");
    const what = document.createElement("strong");
    what.textContent = review.decision;
    item.append(what, ` by ${review.reviewer}, ${review.reviewed_at}`);
    if (review.comment) item.append(`: “${review.comment}”`);
    list.append(item);
  }

  async function send(form) {
    if (!form.reportValidity()) return false;
    const typed = form.querySelector("input[name=reviewer]"); // none when signed in with an account
    document.querySelectorAll("form.review input[name=reviewer]").forEach((input) => {
      if (typed && !input.value) input.value = typed.value; // typed once, offered on every form
    });
    let response;
    try {
      response = await fetch(form.action, {
        method: "POST", body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
    } catch (error) {
      say("Not saved: the station did not answer. Try again.", true);
      return false;
    }
    if (!response.ok) {
      say(`Not saved: ${(await response.text()).replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200)}`, true);
      return false;
    }
    const review = await response.json();
    const card = form.closest("article");
    if (card) {
      shown(card, review);
      form.reset();
      if (typed) typed.value = typed.value || review.reviewer;
      form.closest("details").open = false;
      say(`Saved: ${card.dataset.name}, ${review.decision}.`);
    } else {
      shownForSlide(review);
      form.reset();
      if (typed) typed.value = typed.value || review.reviewer;
      say(`Saved: the slide, ${review.decision}.`);
    }
    return true;
  }

  document.querySelectorAll("form.review").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(form);
    });
  });

  function go(index) {
    if (!cards.length) return;
    current = Math.max(0, Math.min(cards.length - 1, index));
    cards.forEach((card, i) => card.classList.toggle("current", i === current));
    const card = cards[current];
    const details = card.querySelector("details:not(.quality)");
    if (details) details.open = true;
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const typing = event.target.closest && event.target.closest("input[type=text], input:not([type]), textarea, select");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (key === "j" || key === "ArrowRight") return event.preventDefault(), go(current + 1);
    if (key === "k" || key === "ArrowLeft") return event.preventDefault(), go(current - 1);
    if (current < 0) return;
    const card = cards[current];
    const form = card.querySelector("form.review");
    if (!form) return;
    const choice = form.querySelector(`input[name=decision][data-key="${CSS.escape(key)}"]`);
    if (choice) {
      event.preventDefault();
      choice.checked = true;
      return;
    }
    if (key === "Enter") {
      event.preventDefault();
      if (!form.querySelector("input[name=decision]:checked")) return say("Choose what you see first (its key is beside it).", true);
      const reviewer = form.querySelector("input[name=reviewer]");
      if (reviewer && !reviewer.value) {
        say("Type your name in Reviewer first.", true);
        return reviewer.focus();
      }
      send(form).then((saved) => { if (saved) go(current + 1); });
    }
  });
})();
