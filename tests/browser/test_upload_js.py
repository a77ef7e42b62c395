"""The browser half of the upload (``batchkit/widgets/upload.js``), run as it is in Chromium.

The real module is loaded into a blank page (served from a made-up origin through Playwright's
router) and rendered with a stand-in for the widget model: ``get``/``set``/``on``/``off`` over a
plain state, and a ``send`` that records what the browser says. The test plays the kernel: it
reads those messages and answers with ``msg:custom`` events. Files are chosen through the real
``<input type=file>``. Time-outs run on Playwright's fake clock, so a wait of two minutes takes
no time and no test depends on how fast the machine is.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Route

pytestmark = [pytest.mark.browser]

UPLOAD_JS = Path(__file__).resolve().parents[2] / "batchkit" / "widgets" / "upload.js"
ORIGIN = "http://batchkit.test"
CHUNK = 1000

HARNESS = """<!doctype html><html><body><div id="host"></div><script type="module">
class Model {
  constructor(state) {
    this.state = {...state}; this.handlers = {}; this.sent = []; this.broken = false;
  }
  get(key) { return this.state[key]; }
  set(key, value) { this.state[key] = value; this.emit(`change:${key}`); }
  save_changes() {}
  on(name, callback) { (this.handlers[name] ||= []).push(callback); }
  off(name, callback) {
    this.handlers[name] = (this.handlers[name] || []).filter((h) => h !== callback);
  }
  emit(name, ...args) { for (const h of [...(this.handlers[name] || [])]) h(...args); }
  send(content, callbacks, buffers) {
    if (this.broken) throw new Error("Cannot send: the comm is closed");
    this.sent.push({ ...content, bytes: (buffers || []).map((b) => b.byteLength) });
  }
}
const module = await import("/upload.js");
window.model = new Model(window.initialState);
const host = document.getElementById("host");
window.cleanup = module.default.render({ model: window.model, el: host });
window.ready = true;
</script></body></html>"""


@pytest.fixture
def js_page(browser: Browser) -> Iterator[Page]:
    """A blank page at a made-up origin serving the harness and the real upload.js."""
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def serve(route: Route) -> None:
        if route.request.url.endswith("/upload.js"):
            route.fulfill(body=UPLOAD_JS.read_text(), content_type="text/javascript")
        else:
            route.fulfill(body=HARNESS, content_type="text/html")

    page.route(f"{ORIGIN}/**", serve)
    page.clock.install()
    try:
        yield page
    finally:
        context.close()
    assert errors == [], "upload.js raised in the page"


def render(page: Page, **state: Any) -> None:
    defaults = {
        "accept": ".txt,.doc,.docx",
        "max_files": 10,
        "max_bytes": 10 * 1024 * 1024,
        "chunk_bytes": CHUNK,
        "taken": [],
        "disabled": False,
        "disabled_reason": "",
        "timeouts": {"ready": 120_000, "ack": 60_000, "done": 120_000},
    }
    page.add_init_script(f"window.initialState = {_json({**defaults, **state})};")
    page.goto(f"{ORIGIN}/index.html")
    page.wait_for_function("window.ready === true")


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def choose(page: Page, *files: tuple[str, bytes]) -> None:
    payload = [{"name": n, "mimeType": "text/plain", "buffer": data} for n, data in files]
    page.set_input_files(".bk-file-input", files=payload)


def sent(page: Page) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = page.evaluate("window.model.sent")
    return messages


def wait_sent(page: Page, count: int) -> list[dict[str, Any]]:
    """Wait (on the page's own state) until the browser has sent ``count`` messages."""
    page.wait_for_function(f"window.model.sent.length >= {count}")
    return sent(page)


def kernel_says(page: Page, message: dict[str, Any]) -> None:
    page.evaluate("(m) => window.model.emit('msg:custom', m, [])", message)


def serve_file(page: Page, upload_id: str, size: int, *, since: int) -> int:
    """Answer one file's upload as the kernel does; returns how many messages were read."""
    kernel_says(page, {"type": "ready", "id": upload_id})
    chunks, received, seen = (size + CHUNK - 1) // CHUNK, 0, since
    for index in range(chunks):
        messages = wait_sent(page, seen + 1)
        chunk = messages[seen]
        assert (chunk["type"], chunk["id"], chunk["index"]) == ("chunk", upload_id, index)
        received += chunk["bytes"][0]
        seen += 1
        kernel_says(page, {"type": "ack", "id": upload_id, "index": index, "received": received})
    end = wait_sent(page, seen + 1)[seen]
    assert end == {"type": "end", "id": upload_id, "chunks": chunks, "bytes": []}
    kernel_says(page, {"type": "done", "id": upload_id, "ok": True, "reason": ""})
    return seen + 1


def line(page: Page) -> str:
    return page.locator(".bk-upload-line").inner_text()


# ---------------------------------------------------------------- one file, several files
def test_several_files_go_one_after_another_each_whole(js_page: Page) -> None:
    render(js_page)
    sizes = {"a.txt": 2500, "b.txt": 10, "c.txt": 1000}
    choose(js_page, *((name, b"x" * size) for name, size in sizes.items()))
    [first] = wait_sent(js_page, 1)
    assert (first["type"], first["name"], first["size"]) == ("start", "a.txt", 2500)
    assert "Sending a.txt to the kernel (2 more waiting)" in line(js_page)
    seen = 1
    for name, size in sizes.items():
        start = sent(js_page)[seen - 1]
        assert (start["type"], start["name"]) == ("start", name)
        # Only this file has started: the others wait their turn, unannounced.
        assert [m["name"] for m in sent(js_page) if m["type"] == "start"][-1] == name
        seen = serve_file(js_page, start["id"], size, since=seen)
        if name != "c.txt":
            seen = len(wait_sent(js_page, seen + 1))
    js_page.wait_for_function("document.querySelector('.bk-upload-line').textContent === ''")
    chunks = [m for m in sent(js_page) if m["type"] == "chunk"]
    assert sum(m["bytes"][0] for m in chunks) == sum(sizes.values())
    assert [m["type"] for m in sent(js_page)].count("cancel") == 0


def test_files_the_browser_refuses_are_told_to_the_kernel_never_started(js_page: Page) -> None:
    render(js_page, taken=["dup.txt"])
    choose(js_page, ("notes.pdf", b"%PDF"), ("empty.txt", b""), ("dup.txt", b"again"))
    messages = wait_sent(js_page, 3)
    assert [(m["type"], m["name"]) for m in messages] == [
        ("refused", "notes.pdf"),
        ("refused", "empty.txt"),
        ("refused", "dup.txt"),
    ]
    assert messages[0]["reason"] == "is a .pdf file; only .txt, .doc and .docx files can be used"
    assert messages[1]["reason"] == "is empty (0 bytes)"
    assert messages[2]["reason"] == "has the same name as another file in this list"


# ---------------------------------------------------------------- reset and cancel
def test_a_reset_cancels_the_file_being_sent_and_never_starts_the_waiting_ones(
    js_page: Page,
) -> None:
    render(js_page)
    choose(js_page, ("a.txt", b"x" * 5000), ("b.txt", b"y" * 100), ("c.txt", b"z" * 100))
    [start] = wait_sent(js_page, 1)
    kernel_says(js_page, {"type": "ready", "id": start["id"]})
    wait_sent(js_page, 5)  # four chunks in flight, waiting for acks
    kernel_says(js_page, {"type": "reset"})
    messages = wait_sent(js_page, 6)
    assert messages[5] == {
        "type": "cancel", "id": start["id"], "reason": "removed from the list", "bytes": [],
    }  # fmt: skip
    js_page.wait_for_function("document.querySelector('.bk-upload-line').textContent === ''")
    js_page.clock.run_for(600_000)  # ten minutes: nothing more may come of the old files
    assert sent(js_page) == messages
    assert [m["name"] for m in messages if m["type"] == "start"] == ["a.txt"]
    # A late answer about the cancelled file changes nothing; a new file starts afresh.
    kernel_says(js_page, {"type": "ack", "id": start["id"], "index": 0, "received": 1000})
    choose(js_page, ("d.txt", b"w" * 10))
    fresh = wait_sent(js_page, 7)[6]
    assert (fresh["type"], fresh["name"]) == ("start", "d.txt")
    serve_file(js_page, fresh["id"], 10, since=7)


# ---------------------------------------------------------------- time-outs
@pytest.mark.parametrize("phase", ["ready", "ack", "done"])
def test_a_silent_kernel_times_out_per_phase_and_the_file_is_cancelled(
    js_page: Page, phase: str
) -> None:
    render(js_page, timeouts={"ready": 30_000, "ack": 20_000, "done": 40_000})
    choose(js_page, ("a.txt", b"x" * 1500))
    [start] = wait_sent(js_page, 1)
    upload_id, count = start["id"], 1
    if phase != "ready":
        kernel_says(js_page, {"type": "ready", "id": upload_id})
        count = len(wait_sent(js_page, 3))  # both chunks sent
    if phase == "done":
        for index, received in ((0, 1000), (1, 1500)):
            kernel_says(
                js_page, {"type": "ack", "id": upload_id, "index": index, "received": received}
            )
        count = len(wait_sent(js_page, 4))  # the end
        assert sent(js_page)[-1]["type"] == "end"
    limit = {"ready": 30_000, "ack": 20_000, "done": 40_000}[phase]
    js_page.clock.run_for(limit - 1_000)
    assert len(sent(js_page)) == count  # still waiting: its own phase's time-out, not another's
    js_page.clock.run_for(2_000)
    cancel = wait_sent(js_page, count + 1)[count]
    assert (cancel["type"], cancel["id"]) == ("cancel", upload_id)
    assert cancel["reason"] == (
        f"the kernel did not answer for {limit // 1000} s (is it busy?); not sent"
    )


def test_every_answer_starts_the_wait_afresh(js_page: Page) -> None:
    render(js_page, chunk_bytes=CHUNK, timeouts={"ready": 30_000, "ack": 20_000, "done": 40_000})
    choose(js_page, ("slow.txt", b"x" * 8000))  # eight chunks, acked slowly
    [start] = wait_sent(js_page, 1)
    kernel_says(js_page, {"type": "ready", "id": start["id"]})
    seen = 1
    for index in range(8):
        chunk = wait_sent(js_page, seen + 1)[seen]
        assert chunk["index"] == index
        seen += 1
        js_page.clock.run_for(15_000)  # each ack comes 15 s later: 2 min in all, under 20 s each
        kernel_says(
            js_page,
            {"type": "ack", "id": start["id"], "index": index, "received": 1000 * (index + 1)},
        )
    assert wait_sent(js_page, seen + 1)[seen]["type"] == "end"
    assert "cancel" not in [m["type"] for m in sent(js_page)]


def test_after_one_file_times_out_the_next_has_a_fate_of_its_own(js_page: Page) -> None:
    render(js_page, timeouts={"ready": 10_000, "ack": 10_000, "done": 10_000})
    choose(js_page, ("first.txt", b"x" * 10), ("second.txt", b"y" * 10))
    assert wait_sent(js_page, 1)[0]["name"] == "first.txt"
    js_page.clock.run_for(11_000)
    messages = wait_sent(js_page, 3)
    assert messages[1]["type"] == "cancel"
    second = messages[2]
    assert (second["type"], second["name"]) == ("start", "second.txt")
    serve_file(js_page, second["id"], 10, since=3)
    js_page.wait_for_function("document.querySelector('.bk-upload-line').textContent === ''")
    assert [m["type"] for m in sent(js_page)].count("cancel") == 1


# ---------------------------------------------------------------- a closed connection
def test_a_closed_comm_stops_what_was_going_and_says_so_for_later_files(js_page: Page) -> None:
    render(js_page)
    choose(js_page, ("a.txt", b"x" * 3000), ("b.txt", b"y" * 10))
    [start] = wait_sent(js_page, 1)
    js_page.evaluate("window.model.broken = true; window.model.emit('comm:close')")
    expected = "The kernel is not connected: run the cell again to send files."
    js_page.wait_for_function(
        f"document.querySelector('.bk-upload-line').textContent === {_json(expected)}"
    )
    assert js_page.locator(".bk-choose-files").is_disabled()
    js_page.clock.run_for(600_000)
    choose(js_page, ("c.txt", b"z" * 10))
    assert sent(js_page) == [start]  # nothing more was sent, and no file took another's error
    assert line(js_page) == expected


def test_a_send_that_fails_fails_that_file_only(js_page: Page) -> None:
    render(js_page)
    choose(js_page, ("a.txt", b"x" * 10))
    [start] = wait_sent(js_page, 1)
    js_page.evaluate("window.model.broken = true")
    kernel_says(js_page, {"type": "ready", "id": start["id"]})  # its chunk cannot be sent
    expected = "The kernel is not connected: run the cell again to send files."
    js_page.wait_for_function(
        f"document.querySelector('.bk-upload-line').textContent === {_json(expected)}"
    )
    js_page.evaluate("window.model.broken = false")
    choose(js_page, ("b.txt", b"y" * 10))
    assert sent(js_page) == [start]  # once the link broke, no later file pretends to go


# ---------------------------------------------------------------- the way in
def test_the_button_opens_the_dialog_and_the_input_is_not_inside_a_button(js_page: Page) -> None:
    render(js_page)
    button = js_page.locator("button.bk-choose-files")
    assert button.inner_text() == "Choose files…"
    assert js_page.locator("[role=button] input, button input").count() == 0
    with js_page.expect_file_chooser() as chooser:
        button.focus()
        js_page.keyboard.press("Enter")
    chooser.value.set_files(
        files=[{"name": "k.txt", "mimeType": "text/plain", "buffer": b"keyboard"}]
    )
    assert wait_sent(js_page, 1)[0]["name"] == "k.txt"
    js_page.evaluate(
        "window.model.set('disabled', true); window.model.set('disabled_reason', 'busy')"
    )
    assert button.is_disabled()
    assert button.get_attribute("title") == "busy"
