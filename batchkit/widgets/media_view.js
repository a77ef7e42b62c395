// batchkit media view: one story's images (thumbnails that enlarge) and audio players.
// The list of items is synced state; their bytes come from the kernel in message buffers,
// never in the state, so they are neither saved in the notebook nor kept after the view goes.
function render({ model, el }) {
  // element() comes from dom.js, joined in front of this module.
  const gallery = element("ul", { className: "bk-media-images" });
  const players = element("div", { className: "bk-media-players" });
  const big = element("img", { className: "bk-media-large" });
  const caption = element("p", { className: "bk-media-caption" });
  const close = element("button", { type: "button", className: "bk-media-close", textContent: "Close" });
  const dialog = element("dialog", { className: "bk-media-dialog" }, [close, big, caption]);
  el.append(element("div", { className: "bk-media-view" }, [gallery, players, dialog]));

  const urls = new Map(); // item id -> blob URL of its bytes
  const nodes = new Map(); // item id -> its element
  let opener = null;

  const urlOf = (id) => urls.get(id) || "";
  const enlarge = (item, button) => {
    opener = button;
    big.src = urlOf(item.id);
    big.alt = item.alt;
    caption.textContent = item.alt;
    dialog.setAttribute("aria-label", item.label);
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
    close.focus();
  };
  const shut = () => {
    if (dialog.open) dialog.close();
    dialog.removeAttribute("open");
  };
  dialog.addEventListener("close", () => { if (opener && opener.isConnected) opener.focus(); });
  close.addEventListener("click", shut);
  dialog.addEventListener("click", (event) => { if (event.target === dialog) shut(); });

  const imageNode = (item) => {
    const img = element("img", { className: "bk-media-image" });
    const button = element("button", { type: "button", className: "bk-thumb" }, [img]);
    const words = element("span", { className: "bk-media-state" });
    const li = element("li", { className: "bk-media-item" }, [button, words]);
    button.addEventListener("click", () => { if (urls.has(item.id)) enlarge(item, button); });
    return li;
  };
  const audioNode = () => {
    const player = element("audio", { controls: true, preload: "metadata" });
    const words = element("span", { className: "bk-media-state" });
    return element("figure", { className: "bk-media-audio" }, [element("figcaption"), player, words]);
  };
  const paint = (item, node) => {
    const ready = urls.has(item.id);
    const words = node.querySelector(".bk-media-state");
    words.textContent = item.state === "failed" ? `✗ ${item.error}` : ready ? "" : "loading…";
    if (item.kind === "image") {
      const button = node.querySelector("button");
      const img = node.querySelector("img");
      img.alt = item.alt;
      if (ready && img.src !== urlOf(item.id)) img.src = urlOf(item.id);
      button.setAttribute("aria-label", `Enlarge image: ${item.alt}`);
      button.disabled = !ready;
    } else {
      node.querySelector("figcaption").textContent = item.label;
      const player = node.querySelector("audio");
      player.setAttribute("aria-label", item.label);
      if (ready && player.src !== urlOf(item.id)) player.src = urlOf(item.id);
    }
  };

  const draw = () => {
    const items = model.get("items");
    const wanted = new Set(items.map((item) => item.id));
    for (const [id, node] of nodes) {
      if (!wanted.has(id)) {
        node.remove();
        nodes.delete(id);
        if (urls.has(id)) URL.revokeObjectURL(urls.get(id));
        urls.delete(id);
      }
    }
    const missing = [];
    for (const item of items) {
      let node = nodes.get(item.id);
      if (!node) {
        node = item.kind === "image" ? imageNode(item) : audioNode();
        nodes.set(item.id, node);
      }
      (item.kind === "image" ? gallery : players).append(node); // keeps the items' order
      if (item.state === "ready" && !urls.has(item.id)) missing.push(item.id);
      paint(item, node);
    }
    gallery.hidden = !items.some((item) => item.kind === "image");
    if (missing.length) model.send({ type: "want", ids: missing });
  };

  const onMessage = (msg, buffers) => {
    if (msg.type !== "media" || !buffers || !buffers.length) return;
    const item = model.get("items").find((candidate) => candidate.id === msg.id);
    if (!item) return;
    if (urls.has(msg.id)) URL.revokeObjectURL(urls.get(msg.id));
    const blob = new Blob([buffers[0]], { type: msg.mime });
    urls.set(msg.id, URL.createObjectURL(blob));
    const node = nodes.get(msg.id);
    if (node) paint(item, node);
  };

  draw();
  model.on("change:items", draw);
  model.on("msg:custom", onMessage);
  return () => {
    model.off("change:items", draw);
    model.off("msg:custom", onMessage);
    for (const url of urls.values()) URL.revokeObjectURL(url);
    urls.clear();
  };
}

export default { render };
