// batchkit comparison matrix, browser half. The table's HTML comes from the kernel, escaped;
// this file only wires it: filters (synced traits), pictures loaded on request as they come into
// view, a clip loaded and played when its button is pressed, and marks sent to the kernel.
// Protocol: see batchkit/widgets/matrix.py. Media bytes arrive in message buffers only.

const IN_FLIGHT = 4; // media requests at a time

// element() comes from dom.js, joined in front of this module.

function checkbox(model, trait, words) {
  const input = element("input", { type: "checkbox", checked: model.get(trait) });
  input.addEventListener("change", () => {
    model.set(trait, input.checked);
    model.save_changes();
  });
  model.on(`change:${trait}`, () => { input.checked = model.get(trait); });
  return element("label", { className: "bk-mx-filter" }, [input, ` ${words}`]);
}

class MediaLoader {
  constructor(model) {
    this.model = model;
    this.urls = new Map(); // id -> blob URL, kept for redraws
    this.waiting = new Map(); // id -> [callbacks]
    this.queue = [];
    this.busy = 0;
  }

  get(id, done) {
    if (this.urls.has(id)) { done(this.urls.get(id), null); return; }
    if (this.waiting.has(id)) { this.waiting.get(id).push(done); return; }
    this.waiting.set(id, [done]);
    this.queue.push(id);
    this.pump();
  }

  pump() {
    while (this.busy < IN_FLIGHT && this.queue.length) {
      this.busy += 1;
      this.model.send({ type: "media", id: this.queue.shift() });
    }
  }

  answered(msg, buffers) {
    const callbacks = this.waiting.get(msg.id) || [];
    this.waiting.delete(msg.id);
    this.busy = Math.max(0, this.busy - 1);
    let url = null;
    if (msg.type === "media" && buffers && buffers.length === 1) {
      const view = buffers[0];
      const bytes = view instanceof DataView ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : view;
      url = URL.createObjectURL(new Blob([bytes], { type: msg.mime }));
      this.urls.set(msg.id, url);
    }
    for (const done of callbacks) done(url, url ? null : (msg.reason || "could not load it"));
    this.pump();
  }

  close() {
    for (const url of this.urls.values()) URL.revokeObjectURL(url);
    this.urls.clear();
  }
}

function focusKey(node) {
  if (!node || !node.closest) return null;
  const cell = node.closest("[data-cell]");
  if (!cell) return null;
  if (node.dataset && node.dataset.rating) return [cell.dataset.cell, `[data-rating="${node.dataset.rating}"]`];
  if (node.classList.contains("bk-mx-note-input")) return [cell.dataset.cell, ".bk-mx-note-input"];
  return null;
}

function render({ model, el }) {
  const loader = new MediaLoader(model);
  // Players the user opened survive redraws and filters (moved back within the redraw's task,
  // a playing one plays on).
  const players = new Map();
  const summary = element("p", { className: "bk-mx-summary" });
  summary.setAttribute("role", "status");
  const filters = element("div", { className: "bk-mx-filters" }, [
    checkbox(model, "only_failures", "only documents that failed somewhere"),
    checkbox(model, "only_differences", "only documents whose cells differ"),
  ]);
  filters.setAttribute("role", "group");
  filters.setAttribute("aria-label", "Filters");
  const table = element("div", { className: "bk-mx-table" });
  const root = element("div", { className: "bk-mx-host" }, [filters, summary, table]);
  el.append(root);

  const seen = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      seen.unobserve(entry.target);
      showPicture(entry.target);
    }
  }, { root: null, rootMargin: "200px" });

  function showPicture(img) {
    loader.get(img.dataset.media, (url, problem) => {
      if (url) { img.src = url; img.classList.add("bk-mx-loaded"); }
      else { img.alt = `${img.alt} (${problem})`; img.classList.add("bk-mx-broken"); }
    });
  }

  function paint() {
    const key = focusKey(document.activeElement);
    const caret = document.activeElement && document.activeElement.selectionStart;
    table.innerHTML = model.get("html");
    summary.textContent = model.get("summary");
    for (const button of table.querySelectorAll(".bk-mx-play[data-media]")) {
      const player = players.get(button.dataset.media);
      if (player) button.replaceWith(player);
    }
    for (const img of table.querySelectorAll("img[data-media]")) {
      if (loader.urls.has(img.dataset.media)) showPicture(img);
      else seen.observe(img);
    }
    if (key) {
      const again = table.querySelector(`[data-cell="${key[0]}"] ${key[1]}`);
      if (again) {
        again.focus();
        if (typeof caret === "number" && again.setSelectionRange) again.setSelectionRange(caret, caret);
      }
    }
  }

  function play(button) {
    button.disabled = true;
    button.textContent = "Loading…";
    loader.get(button.dataset.media, (url, problem) => {
      if (!url) {
        button.disabled = false;
        button.textContent = `Could not play: ${problem}`;
        return;
      }
      const audio = element("audio", { controls: true, src: url, preload: "auto" });
      audio.setAttribute("aria-label", (button.getAttribute("aria-label") || "audio").replace(/^Play /, ""));
      audio.dataset.media = button.dataset.media;
      players.set(button.dataset.media, audio);
      button.replaceWith(audio);
      audio.focus();
      audio.play().catch(() => {}); // a browser may refuse to play unasked: the controls remain
    });
  }

  function sendMark(cell, rating) {
    const note = cell.querySelector(".bk-mx-note-input");
    const status = cell.querySelector(".bk-mx-saved");
    if (status) status.textContent = "Saving…";
    model.send({ type: "mark", cell: cell.dataset.cell, rating, note: note ? note.value : "" });
  }

  function pressedRating(cell) {
    const pressed = cell.querySelector('.bk-mx-rate[aria-pressed="true"]');
    return pressed ? pressed.dataset.rating : null;
  }

  table.addEventListener("click", (event) => {
    const target = event.target.closest("button");
    if (!target || !table.contains(target)) return;
    if (target.classList.contains("bk-mx-play")) { play(target); return; }
    if (target.classList.contains("bk-mx-rate")) {
      const cell = target.closest("[data-cell]");
      const on = target.getAttribute("aria-pressed") !== "true";
      for (const other of cell.querySelectorAll(".bk-mx-rate")) other.setAttribute("aria-pressed", "false");
      target.setAttribute("aria-pressed", on ? "true" : "false");
      sendMark(cell, on ? target.dataset.rating : null);
    }
  });
  table.addEventListener("change", (event) => {
    if (!event.target.classList.contains("bk-mx-note-input")) return;
    const cell = event.target.closest("[data-cell]");
    sendMark(cell, pressedRating(cell));
  });
  table.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.classList.contains("bk-mx-note-input")) {
      event.preventDefault();
      event.target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  function onMessage(msg, buffers) {
    if (msg.type === "media" || msg.type === "media-failed") { loader.answered(msg, buffers); return; }
    if (msg.type !== "marked") return;
    const cell = table.querySelector(`[data-cell="${msg.cell}"]`);
    const status = cell && cell.querySelector(".bk-mx-saved");
    if (status) status.textContent = msg.ok ? "Saved" : `Not saved: ${msg.reason}`;
    if (status) status.classList.toggle("bk-mx-problem", !msg.ok);
  }

  model.on("msg:custom", onMessage);
  model.on("change:html", paint);
  const resummarise = () => { summary.textContent = model.get("summary"); };
  model.on("change:summary", resummarise);
  paint();
  return () => {
    seen.disconnect();
    for (const player of players.values()) player.pause();
    players.clear();
    loader.close();
    model.off("msg:custom", onMessage);
    model.off("change:html", paint);
    model.off("change:summary", resummarise);
  };
}

export default { render };
