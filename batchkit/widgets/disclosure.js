// batchkit disclosure: a real <button aria-expanded> that folds and unfolds a part of the page.
// The kernel shows or hides the part (its `expanded` trait); this only draws and reports presses.
function render({ model, el }) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "bk-disclosure-button";
  const mark = document.createElement("span");
  mark.className = "bk-disclosure-mark";
  mark.setAttribute("aria-hidden", "true");
  const label = document.createElement("span");
  label.className = "bk-disclosure-label";
  button.append(mark, label);
  el.append(button);

  const sync = () => {
    const open = Boolean(model.get("expanded"));
    button.setAttribute("aria-expanded", String(open));
    mark.textContent = open ? "▾" : "▸";
    label.textContent = model.get("label");
    const hint = model.get("hint");
    if (hint) button.title = hint; else button.removeAttribute("title");
  };
  const press = () => {
    model.set("expanded", !model.get("expanded"));
    model.save_changes();
  };
  sync();
  button.addEventListener("click", press);
  model.on("change:expanded", sync);
  model.on("change:label", sync);
  model.on("change:hint", sync);
  return () => {
    button.removeEventListener("click", press);
    model.off("change:expanded", sync);
    model.off("change:label", sync);
    model.off("change:hint", sync);
  };
}

export default { render };
