// Joined in front of the widget modules that build elements (see batchkit/widgets/assets.py).
// element("button", { type: "button", className: "x" }, [child, "text"]): one element, its
// properties set and its children appended.
function element(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}
