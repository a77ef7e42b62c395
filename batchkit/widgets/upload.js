// batchkit upload zone, browser half: check files here, then send them to the kernel in chunks.
// Protocol: see batchkit/widgets/chunked_upload.py. File bytes only ever travel as message
// buffers; nothing here writes them into the widget's synced state. The list of files is the
// kernel's (the page's one file table): the browser only says, in one line, what it is doing.

const WINDOW = 4; // chunks in flight before waiting for the kernel's acks
const MIB = 1024 * 1024;
const DEFAULT_TIMEOUTS = { ready: 120000, ack: 60000, done: 120000 };

function describeSize(size) {
  if (size < 1024) return size === 1 ? "1 byte" : `${size} bytes`;
  if (size < MIB) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / MIB).toFixed(1)} MiB`;
}

function listWords(items) {
  if (items.length < 2) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

function extensionOf(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot).toLowerCase() : "";
}

function sizeProblem(size, maxBytes) {
  const limit = (maxBytes + 1) % MIB === 0
    ? `smaller than ${(maxBytes + 1) / MIB} MiB`
    : `at most ${describeSize(maxBytes)} (${maxBytes.toLocaleString("en-US")} bytes)`;
  return `is too large (${describeSize(size)}, ${size.toLocaleString("en-US")} bytes): files must be ${limit}`;
}

// Why a file may not be sent, in the kernel's own words; null when it may.
function problemOf(file, model, known) {
  const allowed = model.get("accept").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  const ext = extensionOf(file.name);
  const only = `only ${listWords(allowed)} files can be used`;
  if (!allowed.includes(ext)) return ext ? `is a ${ext} file; ${only}` : `has no extension; ${only}`;
  if (file.size === 0) return "is empty (0 bytes)";
  if (file.size > model.get("max_bytes")) return sizeProblem(file.size, model.get("max_bytes"));
  if (known.has(file.name)) return "has the same name as another file in this list";
  if (known.size >= model.get("max_files")) return `too many: at most ${model.get("max_files")} files`;
  return null;
}

let serial = 0;
function newId() {
  serial += 1;
  return `${Date.now().toString(36)}-${serial.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

// One file on its way to the kernel. `started`: the kernel was told (a `start` went out), so a
// stop must tell it too (`cancel`). `over`: nothing more will be sent or waited for.
class Transfer {
  constructor(file) {
    this.id = newId();
    this.file = file;
    this.state = "waiting"; // waiting | sending | checking | accepted | rejected
    this.started = false;
    this.acked = 0;
    this.received = 0;
    this.reason = "";
    this.wake = null;
  }
  get over() {
    return this.state === "accepted" || this.state === "rejected";
  }
  notify() {
    const wake = this.wake;
    this.wake = null;
    if (wake) wake();
  }
}

// Wait until `condition()` (or the transfer is over). The time-out is how long the kernel may
// stay silent about this file in this phase: every answer from it starts the wait afresh.
function waitFor(transfer, condition, phase, timeouts) {
  return new Promise((resolve, reject) => {
    const limit = Number(timeouts[phase] ?? DEFAULT_TIMEOUTS[phase]);
    let timer = null;
    const arm = () => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        transfer.wake = null;
        const seconds = Math.round(limit / 100) / 10;
        reject(new Error(`the kernel did not answer for ${seconds} s (is it busy?); not sent`));
      }, limit);
    };
    const check = () => {
      if (condition() || transfer.over) {
        clearTimeout(timer);
        resolve();
      } else {
        arm();
        transfer.wake = check;
      }
    };
    check();
  });
}

async function send(model, transfer, timeouts) {
  const file = transfer.file;
  const chunkBytes = model.get("chunk_bytes");
  transfer.started = true;
  model.send({ type: "start", id: transfer.id, name: file.name, size: file.size });
  await waitFor(transfer, () => transfer.state !== "waiting", "ready", timeouts);
  let index = 0;
  for (let offset = 0; offset < file.size && !transfer.over; offset += chunkBytes) {
    await waitFor(transfer, () => index - transfer.acked < WINDOW, "ack", timeouts);
    if (transfer.over) break;
    const buffer = await file.slice(offset, offset + chunkBytes).arrayBuffer();
    if (transfer.over) break;
    model.send({ type: "chunk", id: transfer.id, index, offset }, undefined, [buffer]);
    index += 1;
  }
  await waitFor(transfer, () => transfer.acked === index, "ack", timeouts);
  if (transfer.over) return;
  transfer.state = "checking";
  model.send({ type: "end", id: transfer.id, chunks: index });
  await waitFor(transfer, () => false, "done", timeouts);
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "bk-upload";
  // JupyterLab's notebook shortcuts must not take the keys pressed here (Enter, Space, letters);
  // Escape and keys with Ctrl or Cmd (Ctrl+S saves) still reach it.
  const keep = (event) => {
    if (event.key !== "Escape" && !event.ctrlKey && !event.metaKey) event.stopPropagation();
  };
  root.addEventListener("keydown", keep);
  const zone = document.createElement("div");
  zone.className = "bk-drop-zone";
  const hint = document.createElement("span");
  hint.className = "bk-drop-hint";
  hint.textContent = "Drop .txt, .doc or .docx files here, or";
  const choose = document.createElement("button");
  choose.type = "button";
  choose.className = "bk-choose-files";
  choose.textContent = "Choose files…";
  const input = document.createElement("input");
  input.type = "file";
  input.multiple = true;
  input.className = "bk-file-input";
  input.tabIndex = -1; // the button above is the way in; the input itself stays out of the way
  input.setAttribute("aria-hidden", "true");
  const status = document.createElement("p");
  status.className = "bk-upload-line";
  status.setAttribute("role", "status");
  zone.append(hint, choose, input);
  root.append(zone, status);
  el.append(root);

  const transfers = new Map(); // every transfer not over, in the order chosen
  let queue = Promise.resolve();
  let connected = true;
  let said = "";

  const say = (text) => {
    if (text !== said) status.textContent = said = text; // a live region: only on a change
  };
  const describe = () => {
    const going = [...transfers.values()];
    if (!connected) return say("The kernel is not connected: run the cell again to send files.");
    if (going.length === 0) return say("");
    const current = going.find((t) => t.started) || going[0];
    const more = going.length > 1 ? ` (${going.length - 1} more waiting)` : "";
    return say(`Sending ${current.file.name} to the kernel${more}…`);
  };
  const sync = () => {
    input.accept = model.get("accept");
    const off = Boolean(model.get("disabled")) || !connected;
    input.disabled = off;
    choose.disabled = off;
    zone.classList.toggle("bk-drop-disabled", off);
    const reason = model.get("disabled_reason");
    if (off && reason) choose.title = reason; else choose.removeAttribute("title");
  };
  sync();

  const stop = (transfer, reason) => {
    if (transfer.over) return;
    transfer.state = "rejected";
    transfer.reason = reason;
    transfers.delete(transfer.id);
    if (transfer.started && connected) {
      try {
        model.send({ type: "cancel", id: transfer.id, reason: reason.slice(0, 500) });
      } catch (error) {
        connected = false;
      }
    }
    transfer.notify();
    describe();
  };

  const enqueue = (transfer) => {
    transfers.set(transfer.id, transfer);
    queue = queue.then(async () => {
      if (transfer.over) return; // removed (a reset) before its turn: the kernel never heard of it
      if (!connected) return stop(transfer, "the kernel connection closed");
      const timeouts = { ...DEFAULT_TIMEOUTS, ...(model.get("timeouts") || {}) };
      describe();
      try {
        await send(model, transfer, timeouts);
      } catch (error) {
        stop(transfer, String(error && error.message ? error.message : error));
      } finally {
        transfers.delete(transfer.id);
        describe();
      }
    });
  };

  const chooseFiles = (files) => {
    if (model.get("disabled")) return;
    const known = new Set(model.get("taken"));
    for (const t of transfers.values()) known.add(t.file.name);
    for (const file of files) {
      if (!connected) return describe();
      const problem = problemOf(file, model, known);
      try {
        if (problem) {
          model.send({ type: "refused", name: file.name.slice(0, 1024), size: file.size, reason: problem });
          continue;
        }
      } catch (error) {
        connected = false;
        sync();
        return describe();
      }
      known.add(file.name);
      enqueue(new Transfer(file));
    }
    describe();
  };

  const onMessage = (msg) => {
    if (msg.type === "reset") {
      for (const t of [...transfers.values()]) stop(t, "removed from the list");
      return;
    }
    const transfer = transfers.get(msg.id);
    if (!transfer) return; // a file already stopped here; the kernel was told with `cancel`
    if (msg.type === "ready") transfer.state = "sending";
    else if (msg.type === "ack") {
      transfer.acked = msg.index + 1;
      transfer.received = msg.received;
    } else if (msg.type === "done") {
      transfer.state = msg.ok ? "accepted" : "rejected";
      transfer.reason = msg.reason;
    } else if (msg.type === "failed") {
      transfer.state = "rejected";
      transfer.reason = msg.reason;
    }
    transfer.notify();
  };

  const onDestroy = () => {
    connected = false;
    for (const t of [...transfers.values()]) stop(t, "the kernel connection closed");
    sync();
    describe();
  };

  const open = () => { if (!model.get("disabled") && connected) input.click(); };
  const onChange = () => { chooseFiles([...input.files]); input.value = ""; };
  const onDragOver = (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = model.get("disabled") ? "none" : "copy";
    zone.classList.add("bk-drag-over");
  };
  const onDragLeave = () => zone.classList.remove("bk-drag-over");
  const onDrop = (event) => {
    event.preventDefault();
    zone.classList.remove("bk-drag-over");
    if (event.dataTransfer) chooseFiles([...event.dataTransfer.files]);
  };

  choose.addEventListener("click", open);
  zone.addEventListener("dragover", onDragOver);
  zone.addEventListener("dragleave", onDragLeave);
  zone.addEventListener("drop", onDrop);
  input.addEventListener("change", onChange);
  model.on("msg:custom", onMessage);
  model.on("destroy", onDestroy);
  model.on("comm:close", onDestroy);
  model.on("change:disabled", sync);
  model.on("change:disabled_reason", sync);
  model.on("change:accept", sync);

  return () => {
    root.removeEventListener("keydown", keep);
    model.off("msg:custom", onMessage);
    model.off("destroy", onDestroy);
    model.off("comm:close", onDestroy);
    model.off("change:disabled", sync);
    model.off("change:disabled_reason", sync);
    model.off("change:accept", sync);
    for (const t of [...transfers.values()]) stop(t, "the page closed before it was sent");
  };
}

export default { render };
