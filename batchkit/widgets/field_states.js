// batchkit field states: puts aria-invalid and aria-describedby on the form's own inputs.
// ipywidgets' controls have no traits for these, so this widget, placed inside the form, finds
// each field's input by the field's CSS class and its message by the message's class, and
// marks them; it marks them again whenever the form's elements are drawn anew.
let serial = 0;

function render({ model, el }) {
  serial += 1;
  const uid = `bk-field-${serial}`;
  el.style.display = "none";
  let scheduled = false;

  const apply = () => {
    scheduled = false;
    const root = el.closest(".bk-config-form");
    if (!root) return;
    for (const field of model.get("fields")) {
      const box = root.querySelector(`.${CSS.escape(field.box)}`);
      if (!box) continue;
      const message = root.querySelector(`.${CSS.escape(field.message)}`);
      const inputs = box.querySelectorAll("input, textarea, select");
      let id = "";
      if (message) {
        if (!message.id) message.id = `${uid}-${field.message}`;
        id = message.id;
      }
      for (const input of inputs) {
        const invalid = field.invalid ? "true" : "false";
        if (input.getAttribute("aria-invalid") !== invalid) input.setAttribute("aria-invalid", invalid);
        if (field.invalid && id) {
          if (input.getAttribute("aria-describedby") !== id) input.setAttribute("aria-describedby", id);
        } else if (input.hasAttribute("aria-describedby")) {
          input.removeAttribute("aria-describedby");
        }
      }
    }
  };
  const soon = () => {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(apply);
  };
  const observer = new MutationObserver(soon);
  const start = () => {
    const root = el.closest(".bk-config-form");
    if (root) observer.observe(root, { childList: true, subtree: true });
    soon();
  };
  // The view is placed in the page after render returns: look for the form on the next frame.
  requestAnimationFrame(start);
  model.on("change:fields", soon);
  return () => {
    observer.disconnect();
    model.off("change:fields", soon);
  };
}

export default { render };
