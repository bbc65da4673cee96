"""The web console in a real headless Chromium against a real server on a loopback port."""

from __future__ import annotations

import os
import pathlib
import shutil
import threading

import pytest
from conftest import example_app

from skills_sdk.transcripts import open_ledger
from skills_sdk.transcripts.keys import create_key

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
USER = "amzn1.ask.account.BROWSER"
SCRIPT = '<script>document.title="pwned"</script>'
RLO_USER = "amzn1.ask.account.\u202eLIAM"  # an override that the id never closes
SSML = '<speak>Your order <break time="1s"/> is <img src=x onerror="document.title=\'pwned\'"></speak>'

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver); "
                "in CI a missing browser fails instead", allow_module_level=True)

if os.environ.get("CI"):
    from selenium import webdriver  # in CI a missing selenium fails, like a missing browser
else:
    webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _row(i: int, **over) -> dict:
    base = {"created_at": f"2026-11-2{i % 3}T10:{i:02d}:00.000Z", "developer_id": "pronto-pizza-labs",
            "skill": "pizza", "user_id": USER, "session_id": f"B{i // 2}", "request_id": f"R{i}",
            "request_type": "IntentRequest", "intent": "OrderPizzaIntent", "slots": {"size": "large"},
            "utterance": f"order pizza {i}", "speech": f"Pizza answer {i}.", "latency_ms": 4.0 + i,
            "status": "ok", "capture_mode": "full"}
    base.update(over)
    return base


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    """create_app on a SQLite file or a PostgreSQL database, served by werkzeug on 127.0.0.1 in a thread."""
    from werkzeug.serving import make_server

    folder = tmp_path_factory.mktemp("db")
    if request.param == "postgres":
        cluster = request.getfixturevalue("postgres_cluster")
        url = cluster.create_database(template=cluster.ledger_template())
        store = open_ledger(url, key_file=str(folder / "ledger.key"), spool_path=str(folder / "ledger.spool"))
    else:
        store = open_ledger(folder / "transcripts.db")
    store.record_many([_row(i) for i in range(6)] + [
        _row(6, utterance=SCRIPT, speech=SSML, session_id="EVIL"),
        _row(7, status="error", error="RuntimeError: oven on fire", session_id="B9"),
        _row(8, user_id="amzn1.ask.account.OTHER", session_id="O1", transaction={
            "kind": "pizza_order", "reference": "P-9", "amount": "21.00", "currency": "USD"}),
    ])
    dev_key = create_key(store, "developer", "pronto-pizza-labs")[1]
    user_key = create_key(store, "user", USER)[1]
    app = example_app(store=store, test_config={"SECRET_KEY": "browser-test-secret-0123456789"})
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{srv.server_port}", "store": store, "dev_key": dev_key, "user_key": user_key}
    srv.shutdown()
    store.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium through Debian's chromedriver, with a fresh profile."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1100,900",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> pathlib.Path:
    """Where page screenshots go: $SKILLS_SCREENSHOTS, else a temp folder."""
    folder = pathlib.Path(os.environ.get("SKILLS_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait(browser, condition, timeout: float = 10):
    return WebDriverWait(browser, timeout).until(condition)


def snap(browser, shots: pathlib.Path, name: str) -> None:
    """Save a screenshot of the page (and into $SKILLS_DOCS_SCREENSHOTS too, to refresh docs/img)."""
    path = shots / name
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 0
    if os.environ.get("SKILLS_DOCS_SCREENSHOTS"):
        shutil.copy(path, pathlib.Path(os.environ["SKILLS_DOCS_SCREENSHOTS"]) / name)


def no_alert_ran(browser) -> None:
    assert browser.title != "pwned"
    assert browser.execute_script("return document.querySelectorAll('main script, main img').length") == 0


def test_developer_signs_in_filters_and_opens_a_conversation(server, browser, shots):
    browser.get(server["url"] + "/console/")
    browser.find_element(By.ID, "key").send_keys("sk_dev_not_a_key")
    browser.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    assert "no live developer key matches it" in wait(browser, EC.presence_of_element_located(
        (By.ID, "sign-in-error"))).text
    browser.find_element(By.ID, "key").send_keys(server["dev_key"])
    browser.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    wait(browser, EC.presence_of_element_located((By.ID, "filters")))
    assert server["dev_key"] not in browser.current_url
    evil = browser.find_element(By.ID, "turn-7")
    assert SCRIPT in evil.text and "<speak>" in evil.text  # shown as text, not run or rendered
    no_alert_ran(browser)
    snap(browser, shots, "console-conversations.png")

    browser.find_element(By.CSS_SELECTOR, "#filters input[name=errors]").click()
    browser.find_element(By.CSS_SELECTOR, "#filters button").click()
    wait(browser, EC.url_contains("errors=1"))
    assert {e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, "li.turn")} == {"turn-8"}

    browser.get(server["url"] + "/console/?q=answer+3")
    browser.find_element(By.CSS_SELECTOR, "section.thread h2 a.open").click()
    wait(browser, EC.presence_of_element_located((By.ID, "conversation")))
    turns = browser.find_elements(By.CSS_SELECTOR, "#conversation li.turn")
    assert [t.get_attribute("id") for t in turns] == ["turn-3", "turn-4"]
    assert "Pizza answer 3." in turns[1].text
    snap(browser, shots, "console-conversation.png")

    browser.get(server["url"] + "/console/dashboard?days=30")
    board = wait(browser, EC.presence_of_element_located((By.ID, "board-pizza")))
    assert board.find_element(By.CSS_SELECTOR, ".requests").text.isdigit()
    assert len(board.find_elements(By.CSS_SELECTOR, "svg.chart rect.ok")) == 30
    snap(browser, shots, "console-dashboard.png")


def test_anyone_chats_with_the_pizza_skill_in_the_simulator(server, browser, shots):
    browser.get(server["url"] + "/console/simulator?skill=pizza")
    box = wait(browser, EC.presence_of_element_located((By.ID, "sim-text")))
    for n, text in enumerate(["open pizza shop", "order a large pepperoni pizza", "yes",
                              "<b>bold</b> and <script>x</script>"], start=1):
        box.send_keys(text)
        browser.find_element(By.ID, "sim-send").click()
        wait(browser, lambda b, n=n: len(b.find_elements(By.CSS_SELECTOR, "#sim-log li.turn")) == n)
    turns = browser.find_elements(By.CSS_SELECTOR, "#sim-log li.turn")
    assert "Welcome to Pizza Shop" in turns[0].text
    # Alexa's dialog model confirms the order itself: the skill is not called, no row is written.
    assert "Shall I place the order" in turns[1].text and "dialog model" in turns[1].text
    assert "transcript row #" not in turns[1].text
    assert "pepperoni is on its way" in turns[2].text and "transcript row #" in turns[2].text
    assert "<b>bold</b>" in turns[3].text  # typed markup echoes as text
    assert browser.execute_script("return document.querySelectorAll('#sim-log b, #sim-log script').length") == 0
    assert server["store"].count(user_id="simulator-user") == 3  # each turn the skill answered left its row
    snap(browser, shots, "console-simulator.png")


def test_a_user_downloads_sets_capture_mode_and_erases_their_data(server, browser, shots):
    browser.get(server["url"] + "/console/me")
    browser.find_element(By.ID, "token").send_keys(server["user_key"])
    browser.find_element(By.CSS_SELECTOR, "#me-sign-in button").click()
    total = wait(browser, EC.presence_of_element_located((By.ID, "total")))
    assert int(total.text) == server["store"].count(user_id=USER) > 0
    assert SCRIPT in browser.find_element(By.ID, "turn-7").text
    no_alert_ran(browser)
    snap(browser, shots, "console-my-data.png")

    browser.find_element(By.CSS_SELECTOR, "#capture-mode input[value=metadata]").click()
    browser.find_element(By.CSS_SELECTOR, "#capture-mode button").click()
    wait(browser, EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "no words at all"))
    assert server["store"].capture_mode(USER) == "metadata"

    browser.find_element(By.CSS_SELECTOR, "#erase-all button").click()
    wait(browser, EC.presence_of_element_located((By.ID, "confirm-erase")))
    browser.find_element(By.CSS_SELECTOR, "#confirm-erase button").click()
    receipt = wait(browser, EC.presence_of_element_located((By.ID, "receipt")))
    assert '"receipt_id"' in receipt.text and USER not in receipt.text
    snap(browser, shots, "console-erased.png")
    assert server["store"].count(user_id=USER) == 0
    assert server["store"].count(user_id="amzn1.ask.account.OTHER") == 1

    browser.get(server["url"] + "/console/me")
    assert wait(browser, EC.presence_of_element_located((By.ID, "nothing"))).text.startswith("No transcripts")


def test_untrusted_text_neither_widens_the_page_nor_reverses_the_text_after_it(server, browser):
    """A 20,000-character word made the page 350,000 px wide; an unclosed U+202E in a user id showed the
    thread's "on this page · from <date>" backwards. Also: the sign-in form works from the keyboard alone,
    and a form another site posts cannot sign the developer out."""
    server["store"].record(_row(9, user_id=RLO_USER, session_id="W" * 3000, utterance="W" * 20_000,
                                slots={"size": "W" * 5000}))
    browser.delete_all_cookies()
    browser.get(server["url"] + "/console/")
    # Typing starts in the key field: autofocus moves there after the page has loaded, so the body
    # can still hold the focus when the page is first there (and a loaded machine shows it).
    focused = wait(browser, lambda b: b.switch_to.active_element.get_attribute("id") == "key" and b.switch_to.active_element)
    focused.send_keys(server["dev_key"] + Keys.ENTER)
    meta = wait(browser, EC.presence_of_element_located((By.XPATH, "//p[@class='thread-meta'][code[contains(., 'LIAM')]]")))
    assert "on this page" in meta.text
    # Left edges of the p and the e of "page": in reading order unless the id's override leaked out.
    p_left, e_left = browser.execute_script("""
        const meta = arguments[0], walk = document.createTreeWalker(meta, NodeFilter.SHOW_TEXT);
        let node; while ((node = walk.nextNode()) && !node.data.includes("on this page")) {}
        const at = node.data.indexOf("page"), left = (i) => {
          const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
          return r.getBoundingClientRect().left; };
        return [left(at), left(at + 3)];""", meta)
    assert p_left < e_left
    # Another site (here an opaque data: page) posts a form to sign the developer out: it is refused, and
    # its refusal must not hand the browser a new session id in place of the signed-in one.
    target = server["url"] + "/console/sign-out"
    browser.get("data:text/html,<form method=post action='" + target + "'><button id=go>win</button></form>")
    browser.find_element(By.ID, "go").click()
    wait(browser, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Form"))
    browser.get(server["url"] + "/console/")
    assert browser.find_elements(By.ID, "filters"), "another site's refused form signed the developer out"
    def fits() -> None:
        page, window = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert page <= window, f"{browser.current_url} is {page} px wide in a {window} px window"

    fits()
    browser.set_window_size(480, 900)
    fits()
    # A user whose id is one long word, signed in to My data: the id is in the header of every page.
    browser.get(server["url"] + "/console/me")
    browser.switch_to.active_element.send_keys(create_key(server["store"], "user", "amzn1.ask.account." + "W" * 3000)[1]
                                               + Keys.ENTER)
    wait(browser, EC.presence_of_element_located((By.ID, "total")))
    fits()
    browser.get(server["url"] + "/console/simulator")
    fits()
    browser.set_window_size(1100, 900)
