"""The analyst page in a real browser: Debian's Chromium, headless, driven by Playwright, against a
real uvicorn server on loopback. `scripts/ci-deps.sh` installs both."""

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (scripts/ci-deps.sh installs it)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (scripts/ci-deps.sh installs it)")
uvicorn = pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from nlp import load_model, load_taxonomy  # noqa: E402
from nlp.apps.serve import LOOPBACK_NAMES, create_app  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# The emoji (two UTF-16 units, one code point) checks that highlights use the API's offsets right.
SNIPPET = ("🇷🇺 The so-called Ukrainian state is a puppet of Washington, installed by the 2014 coup. "
           "Kiev regime neo-Nazis shell Donbas while NATO provoked this war.")
HOSTILE = ('<script>window.__pwned = "script"</script><img src=x onerror="alert(1)"> '
           'NATO provoked this war & the Kiev regime is a puppet <b>state</b>.')

# The code points of #snippet-view that carry `cls`, as offsets into the snippet text.
HIGHLIGHTED = """(cls) => {
  const found = []; let offset = 0;
  for (const node of document.getElementById("snippet-view").childNodes) {
    const length = Array.from(node.textContent).length;
    if (node.classList && node.classList.contains(cls))
      for (let i = offset; i < offset + length; i++) found.push(i);
    offset += length;
  }
  return found;
}"""


@pytest.fixture(scope="module")
def model(small_model):
    return load_model(small_model)


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    """The app under uvicorn on a free loopback port, in a thread; yields (base url, db path)."""
    db = tmp_path_factory.mktemp("serve") / "feedback.sqlite3"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(model, db_path=db, allowed_hosts=LOOPBACK_NAMES),
                            host="127.0.0.1", port=port, log_level="warning")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not web.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", db
    web.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server[0])
    page.wait_for_selector("#choices input", state="attached")   # the taxonomy has loaded
    yield page
    context.close()


def tag(page, text: str) -> None:
    page.fill("#snippet", text)
    page.click("#tag-button")
    page.wait_for_selector("#result:not([hidden])")


def code_points(spans) -> list[int]:
    return sorted({i for span in spans for i in range(span["start"], span["end"])})


def test_tag_a_snippet_see_evidence_and_save_a_correction(page, server, model):
    [expected] = model.predict([SNIPPET])
    assert expected.labels, "the snippet should get at least one tactic"
    tag(page, SNIPPET)

    cards = page.locator("#tactics .tactic:not(.below)")
    assert cards.evaluate_all("cards => cards.map(c => c.dataset.tactic)") == expected.labels
    first = cards.first
    first.hover()
    definition = first.locator(".definition")
    tactic = load_taxonomy()[expected.labels[0]]
    assert definition.is_visible() and definition.text_content() == tactic.definition
    assert first.locator(".family").text_content().lower() == tactic.family.replace("_", " ")
    percent = int(first.locator(".bar").get_attribute("aria-valuenow"))
    assert abs(percent - expected.scores[tactic.id] * 100) <= 0.5

    view = page.locator("#snippet-view")
    assert view.text_content() == SNIPPET
    page.mouse.move(0, 0)   # leave the card: all tactics' evidence is shown
    evidence = expected.evidence.values()
    assert page.evaluate(HIGHLIGHTED, "ev-phrase") == code_points(p for e in evidence for p in e["phrases"])
    assert page.evaluate(HIGHLIGHTED, "ev-sentence") == code_points(e["sentence"] for e in evidence)

    dropped, added = expected.labels[0], next(t for t in model.tactics if t not in expected.labels)
    page.uncheck(f"#choices input[value={dropped}]")
    page.check(f"#choices input[value={added}]")
    page.fill("#note", "sarcasm, not advocacy")
    page.fill("#analyst", "browser test")
    page.click("#save-button")
    page.wait_for_selector("#feedback-status:has-text('Saved correction #')")

    with sqlite3.connect(server[1]) as conn:
        text, labels, predicted, note, analyst = conn.execute(
            "SELECT text, labels, predicted, note, analyst FROM feedback ORDER BY id DESC").fetchone()
    corrected = set(expected.labels) - {dropped} | {added}
    assert (text, set(json.loads(labels)), json.loads(predicted), note, analyst) == (
        SNIPPET, corrected, expected.labels, "sarcasm, not advocacy", "browser test")
    recent = page.locator("#recent .recent-item").first
    assert recent.locator(".recent-text").text_content() == SNIPPET
    assert "corrected" in recent.locator(".recent-labels").text_content()


def test_hostile_snippet_stays_inert_and_literal(page, server):
    dialogs, requests = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    tag(page, HOSTILE)
    page.reload()                       # the recent list now renders the snippet from storage
    page.wait_for_selector("#recent .recent-item")
    page.locator("#recent .recent-item").first.click()
    page.wait_for_selector("#result:not([hidden])")

    assert page.locator("#snippet-view").text_content() == HOSTILE
    assert page.locator("#recent .recent-text").first.text_content() == HOSTILE
    assert page.locator("#snippet-view img, #snippet-view script, #snippet-view b, #recent img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert not [url for url in requests if url.rstrip("/").endswith("/x")]
