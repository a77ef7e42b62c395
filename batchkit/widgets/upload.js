// batchkit upload zone, browser half: check files here, then send them to the kernel in chunks.
// Protocol: see batchkit/widgets/chunked_upload.py. File bytes only ever travel as message
// buffers; nothing here writes them into the widget's synced state.

const WINDOW = 4; // chunks in flight before waiting for the kernel's acks
const STALL_MS = 60000; // a kernel silent this long is taken to be gone
const MIB = 1024 * 1024;

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

function newId() {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

class Transfer {
  constructor(file, item) {
    this.id = newId();
    this.file = file;
    this.item = item;
    this.state = "waiting"; // waiting | sending | checking | accepted | rejected
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

function waitFor(transfer, condition) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      transfer.wake = null;
      reject(new Error("the kernel stopped answering"));
    }, STALL_MS);
    const check = () => {
      if (condition() || transfer.over) {
        clearTimeout(timer);
        resolve();
      } else {
        transfer.wake = check;
      }
    };
    check();
  });
}

function statusItem(name) {
  const item = document.createElement("li");
  item.className = "bk-upload-item";
  const label = document.createElement("span");
  label.className = "bk-upload-name";
  label.textContent = name;
  const state = document.createElement("span");
  state.className = "bk-upload-state";
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute("aria-label", `${name}: sent to the kernel`);
  item.append(label, state, bar);
  return item;
}

function show(transfer, text) {
  const item = transfer.item;
  const [, state, bar] = item.children;
  const size = transfer.file.size || 1;
  bar.value = Math.min(transfer.received / size, 1);
  if (transfer.state === "rejected") {
    item.classList.add("bk-file-error");
    state.textContent = `✗ ${transfer.reason}`;
  } else if (transfer.state === "accepted") {
    item.classList.add("bk-upload-ok");
    state.textContent = "✓ received and checked";
  } else {
    state.textContent = text;
  }
}

async function send(model, transfer) {
  const file = transfer.file;
  const chunkBytes = model.get("chunk_bytes");
  model.send({ type: "start", id: transfer.id, name: file.name, size: file.size });
  await waitFor(transfer, () => transfer.state !== "waiting");
  let index = 0;
  for (let offset = 0; offset < file.size && !transfer.over; offset += chunkBytes) {
    await waitFor(transfer, () => index - transfer.acked < WINDOW);
    if (transfer.over) break;
    const buffer = await file.slice(offset, offset + chunkBytes).arrayBuffer();
    model.send({ type: "chunk", id: transfer.id, index, offset }, undefined, [buffer]);
    index += 1;
    show(transfer, `sending ${Math.floor((100 * transfer.received) / (file.size || 1))}%`);
  }
  await waitFor(transfer, () => transfer.acked === index);
  if (transfer.over) return;
  transfer.state = "checking";
  show(transfer, "checking…");
  model.send({ type: "end", id: transfer.id, chunks: index });
  await waitFor(transfer, () => false);
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "bk-upload";
  // JupyterLab's keyboard shortcuts (Enter: edit the cell) must not take our Enter and Space.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const zone = document.createElement("div");
  zone.className = "bk-drop-zone";
  zone.tabIndex = 0;
  zone.setAttribute("role", "button");
  zone.setAttribute("aria-label", "Drop files here, or press Enter to choose files");
  const hint = document.createElement("span");
  hint.className = "bk-drop-hint";
  hint.textContent = "Drop .txt, .doc or .docx files here, or press Enter to choose";
  const input = document.createElement("input");
  input.type = "file";
  input.multiple = true;
  input.className = "bk-file-input";
  input.id = `bk-file-input-${newId()}`;
  const label = document.createElement("label");
  label.className = "bk-file-label";
  label.htmlFor = input.id;
  label.textContent = "Choose files";
  zone.append(hint, label, input);
  const list = document.createElement("ul");
  list.className = "bk-upload-status";
  list.setAttribute("aria-live", "polite");
  root.append(zone, list);
  el.append(root);

  const transfers = new Map();
  let queue = Promise.resolve();

  const sync = () => {
    input.accept = model.get("accept");
    input.disabled = model.get("disabled");
    zone.setAttribute("aria-disabled", String(model.get("disabled")));
  };
  sync();

  const choose = (files) => {
    if (model.get("disabled")) return;
    for (const item of [...list.children]) if (!item.classList.contains("bk-upload-busy")) item.remove();
    const known = new Set(model.get("taken"));
    for (const t of transfers.values()) known.add(t.file.name);
    for (const file of files) {
      const item = statusItem(file.name);
      list.append(item);
      const problem = problemOf(file, model, known);
      if (problem) {
        item.classList.add("bk-file-error");
        item.children[1].textContent = `✗ ${problem}`;
        model.send({ type: "refused", name: file.name.slice(0, 1024), size: file.size, reason: problem });
        continue;
      }
      known.add(file.name);
      item.classList.add("bk-upload-busy");
      const transfer = new Transfer(file, item);
      transfers.set(transfer.id, transfer);
      show(transfer, "waiting…");
      queue = queue.then(() => send(model, transfer)).catch((error) => {
        transfer.state = "rejected";
        transfer.reason = String(error && error.message ? error.message : error);
        model.send({ type: "cancel", id: transfer.id, reason: transfer.reason.slice(0, 500) });
      }).finally(() => {
        show(transfer, "");
        item.classList.remove("bk-upload-busy");
        transfers.delete(transfer.id);
      });
    }
  };

  const onMessage = (msg) => {
    if (msg.type === "reset") {
      for (const t of transfers.values()) {
        t.state = "rejected";
        t.reason = "removed";
        t.notify();
      }
      list.replaceChildren();
      return;
    }
    const transfer = transfers.get(msg.id);
    if (!transfer) return;
    if (msg.type === "ready") transfer.state = "sending";
    else if (msg.type === "ack") {
      transfer.acked = msg.index + 1;
      transfer.received = msg.received;
      show(transfer, `sending ${Math.floor((100 * transfer.received) / (transfer.file.size || 1))}%`);
    } else if (msg.type === "done") {
      transfer.state = msg.ok ? "accepted" : "rejected";
      transfer.reason = msg.reason;
    } else if (msg.type === "failed") {
      transfer.state = "rejected";
      transfer.reason = msg.reason;
    }
    transfer.notify();
  };

  const open = () => { if (!model.get("disabled")) input.click(); };
  const onKey = (event) => {
    if (event.target !== zone) return;
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      open();
    }
  };
  const onClick = (event) => { if (event.target === zone || event.target === hint) open(); };
  const onChange = () => { choose([...input.files]); input.value = ""; };
  const onDragOver = (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
    zone.classList.add("bk-drag-over");
  };
  const onDragLeave = () => zone.classList.remove("bk-drag-over");
  const onDrop = (event) => {
    event.preventDefault();
    zone.classList.remove("bk-drag-over");
    if (event.dataTransfer) choose([...event.dataTransfer.files]);
  };

  zone.addEventListener("keydown", onKey);
  zone.addEventListener("click", onClick);
  zone.addEventListener("dragover", onDragOver);
  zone.addEventListener("dragleave", onDragLeave);
  zone.addEventListener("drop", onDrop);
  input.addEventListener("change", onChange);
  model.on("msg:custom", onMessage);
  model.on("change:disabled", sync);
  model.on("change:accept", sync);

  return () => {
    model.off("msg:custom", onMessage);
    model.off("change:disabled", sync);
    model.off("change:accept", sync);
    for (const t of transfers.values()) t.notify();
  };
}

export default { render };
