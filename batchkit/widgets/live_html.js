// batchkit live HTML: draws the kernel's markup (the page's file table), changing only what
// changed, so a row's elements (and the keyboard focus on them) stay when another row moves.
// A press of a button with data-action is reported to the kernel: {type: "action", action, key}.

// Two nodes are "the same" when they are the same kind of element with the same data-key.
function sameNode(a, b) {
  if (a.nodeType !== b.nodeType) return false;
  if (a.nodeType !== Node.ELEMENT_NODE) return true;
  return a.tagName === b.tagName && a.getAttribute("data-key") === b.getAttribute("data-key");
}

function syncAttributes(current, fresh) {
  for (const { name } of [...current.attributes]) {
    if (!fresh.hasAttribute(name)) current.removeAttribute(name);
  }
  for (const { name, value } of [...fresh.attributes]) {
    if (current.getAttribute(name) !== value) current.setAttribute(name, value);
  }
}

function update(current, fresh) {
  if (current.nodeType !== Node.ELEMENT_NODE) {
    if (current.nodeValue !== fresh.nodeValue) current.nodeValue = fresh.nodeValue;
    return;
  }
  if (current.isEqualNode(fresh)) return;
  syncAttributes(current, fresh);
  morph(current, fresh);
}

// Make `parent`'s children equal to `model`'s, reusing every node that can be reused.
function morph(parent, model) {
  const fresh = [...model.childNodes];
  const keyed = new Map();
  for (const node of parent.childNodes) {
    if (node.nodeType === Node.ELEMENT_NODE && node.hasAttribute("data-key")) {
      keyed.set(node.getAttribute("data-key"), node);
    }
  }
  let index = 0;
  for (const wanted of fresh) {
    let current = parent.childNodes[index] || null;
    const key = wanted.nodeType === Node.ELEMENT_NODE ? wanted.getAttribute("data-key") : null;
    if (key !== null && keyed.has(key) && keyed.get(key) !== current) {
      const found = keyed.get(key);
      parent.insertBefore(found, current);
      current = found;
    }
    if (current !== null && sameNode(current, wanted)) update(current, wanted);
    else parent.insertBefore(wanted, current);
    index += 1;
  }
  while (parent.childNodes.length > fresh.length) parent.removeChild(parent.lastChild);
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "bk-live-html";
  root.tabIndex = -1; // the kernel may hand it the focus (a button it pressed went away)
  el.append(root);
  let after = null; // where the focus goes when the focused row goes (a removed file)

  const focusKeyOf = (node) => node && node.closest && node.closest("[data-focus-key]");
  const draw = () => {
    const active = document.activeElement;
    const focused = root.contains(active) ? focusKeyOf(active) : null;
    const focusKey = focused ? focused.getAttribute("data-focus-key") : null;
    const template = document.createElement("template");
    template.innerHTML = model.get("html");
    morph(root, template.content);
    if (focusKey === null || root.contains(active)) return;
    const keys = [focusKey, ...(after || [])];
    for (const k of keys) {
      const target = root.querySelector(`[data-focus-key="${CSS.escape(k)}"]`);
      if (target) return target.focus();
    }
    const fallback = root.querySelector("[data-focus-fallback]");
    if (fallback) fallback.focus();
  };

  const onClick = (event) => {
    const button = event.target.closest && event.target.closest("button[data-action]");
    if (!button || !root.contains(button)) return;
    event.preventDefault();
    if (button.getAttribute("aria-disabled") === "true") return;
    // If this row goes away, the focus moves to the next row's button (or the previous one).
    const all = [...root.querySelectorAll(`button[data-action="${button.dataset.action}"]`)];
    const at = all.indexOf(button);
    after = [...all.slice(at + 1), ...all.slice(0, at).reverse()]
      .map((b) => b.getAttribute("data-focus-key"))
      .filter(Boolean);
    model.send({ type: "action", action: button.dataset.action, key: button.dataset.key || "" });
  };

  const onMessage = (msg) => {
    if (msg && msg.do === "focus") root.focus();
  };

  // Keys typed in the workbench are the page's: JupyterLab's notebook shortcuts (a letter typed
  // in a dropdown to pick an option turned the cell into Markdown: "M") must not take them.
  // Lab hears keys as they bubble up to the document; the page keeps its own, but lets Escape
  // (back to the notebook) and keys with Ctrl or Cmd (Ctrl+S saves) through.
  const keep = (event) => {
    if (event.key === "Escape" || event.ctrlKey || event.metaKey) return;
    event.stopPropagation();
  };
  let page = null;
  const claimKeys = (tries) => {
    const found = el.closest(".bk-workbench");
    if (found && !found.hasAttribute("data-bk-keys")) {
      found.setAttribute("data-bk-keys", "page");
      found.addEventListener("keydown", keep);
      page = found;
    } else if (!found && tries > 0) requestAnimationFrame(() => claimKeys(tries - 1));
  };
  requestAnimationFrame(() => claimKeys(60));

  draw();
  root.addEventListener("click", onClick);
  model.on("change:html", draw);
  model.on("msg:custom", onMessage);
  return () => {
    root.removeEventListener("click", onClick);
    model.off("change:html", draw);
    model.off("msg:custom", onMessage);
    if (page) {
      page.removeEventListener("keydown", keep);
      page.removeAttribute("data-bk-keys");
    }
  };
}

export default { render };
