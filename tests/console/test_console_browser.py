"""The console end to end in headless Chromium, logged in through a real OIDC provider (oidc-provider).

The tests run in file order on one demo world: the overview's numbers, four-eyes on a plan started
in the console, a reviewer's decision, an HR offboarding and its receipt, an auditor's downloads,
and requests without a session or with a forged CSRF token that change nothing. Every page is
screenshotted at a laptop and a phone width (test-artifacts/console/) and checked with axe-core.
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait
from sqlalchemy import text

from tests.console.conftest import ARTIFACTS, OIDC_DIR, Console

pytestmark = pytest.mark.slow
AXE = (OIDC_DIR / "node_modules" / "axe-core" / "axe.min.js")
WIDTHS = {"laptop": (1280, 900), "phone": (390, 844)}
README_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def q(console: Console, sql: str, **params: Any) -> Any:
    with console.runtime.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def login(driver: Any, console: Console, who: str, expect_role: bool = True) -> None:
    """Log out of everything (both cookie jars live on 127.0.0.1), then log in through the IdP's form."""
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    driver.get(console.url + "/login")
    driver.find_element(By.ID, "login-oidc").click()
    wait = WebDriverWait(driver, 20)
    wait.until(ec.presence_of_element_located((By.NAME, "login")))

    def fill() -> None:
        driver.find_element(By.NAME, "login").clear()
        driver.find_element(By.NAME, "login").send_keys(who)
        driver.find_element(By.NAME, "password").send_keys("any password")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    steady(fill)
    deadline = time.monotonic() + 20
    while not driver.current_url.startswith(console.url):
        time.sleep(0.3)
        buttons = driver.find_elements(By.CSS_SELECTOR, "button[type=submit]")
        if buttons and driver.current_url.startswith(console.issuer) and not driver.find_elements(By.NAME, "login"):
            with_retry(buttons[0].click)  # the consent page
        assert time.monotonic() < deadline, driver.page_source[:2000]
    if expect_role:
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "header .who"))


def with_retry(fn: Any) -> None:
    try:
        fn()
    except Exception:  # the page moved on under us: the loop looks again
        time.sleep(0.3)


def axe_serious(driver: Any) -> list[dict[str, Any]]:
    driver.execute_script(AXE.read_text())
    found: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map("
        "v => ({id: v.id, impact: v.impact, help: v.help,"
        "       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))));")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def shoot(driver: Any, name: str, readme: str | None = None) -> None:
    """Screenshots at both widths, and axe-core finds no serious violation at either."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, (w, h) in WIDTHS.items():
        driver.set_window_size(w, h)
        if label == "phone":
            driver.refresh()
        WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.readyState") == "complete")
        time.sleep(0.2)
        driver.save_screenshot(str(ARTIFACTS / f"{name}-{label}.png"))
        problems = axe_serious(driver)
        assert not problems, (name, label, problems)
        if readme and label == "laptop" and os.environ.get("UPDATE_README_SCREENSHOTS") == "1":
            README_SHOTS.mkdir(parents=True, exist_ok=True)  # docs/screenshots/, renewed on request only
            driver.save_screenshot(str(README_SHOTS / f"{readme}.png"))
    driver.set_window_size(*WIDTHS["laptop"])


def flash(driver: Any) -> str:
    """The page's one-line message, once the page after a form has loaded."""
    deadline = time.monotonic() + 10
    while True:
        try:
            found = driver.find_elements(By.CSS_SELECTOR, "p.flash")
            if found or time.monotonic() > deadline:
                return str(found[0].text) if found else ""
        except StaleElementReferenceException:
            pass
        time.sleep(0.2)


def submit(driver: Any, element_id: str, seconds: float = 90) -> None:
    """Click a form's button and wait until the next page has replaced this one."""
    def click() -> Any:
        old = driver.find_element(By.TAG_NAME, "html")
        driver.find_element(By.ID, element_id).click()
        return old

    old = steady(click)
    WebDriverWait(driver, seconds).until(ec.staleness_of(old))
    WebDriverWait(driver, seconds).until(lambda d: d.execute_script("return document.readyState") == "complete")


def steady(fn: Any, seconds: float = 15) -> Any:
    """Run ``fn`` again while the page it looks at is replaced under it (a redirect still loading)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return fn()
        except WebDriverException:  # stale element, not there yet, "node does not belong to the document"
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_a_person_sees_the_overview_with_the_demo_numbers(console: Console, browser: Any) -> None:
    login(browser, console, "ciso")
    assert browser.current_url.rstrip("/") == console.url
    grants = q(console, "SELECT COUNT(*) FROM access_grant WHERE seen_to IS NULL")
    admins = q(console, "SELECT COUNT(*) FROM access_grant WHERE seen_to IS NULL AND level >= 4")
    findings = q(console, "SELECT COUNT(*) FROM finding WHERE state = 'open'")
    unverifiable = q(console, "SELECT COUNT(*) FROM access_grant WHERE seen_to IS NULL AND verifiable = 0")
    assert grants > 20 and findings > 10 and unverifiable == 4  # the demo world: five networks, X/YouTube by hand
    assert browser.find_element(By.ID, "t-grants").text == str(grants)
    assert browser.find_element(By.ID, "t-admins").text == str(admins)
    assert browser.find_element(By.ID, "t-findings").text == str(findings)
    assert browser.find_element(By.ID, "t-unverifiable").text == str(unverifiable)
    page = browser.page_source
    for expected in ("meta", "linkedin", "tiktok", "pinterest", "x-youtube", "Dana Leaver", "Old Pixel Studio",
                     "engagement ended", "2026-10-01", "directory", "orphaned"):
        assert expected in page, expected
    assert browser.execute_script("return document.querySelector('img.chart').naturalWidth") > 0, "trend chart"
    shoot(browser, "overview", readme="overview")
    csp = httpx.get(console.url + "/login").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
    for path, name in (("/accounts", "accounts"), ("/accounts/200000000000001", "account"),
                       ("/people", "people"), ("/people/E1002", "person"), ("/findings", "findings"),
                       ("/reviews", "reviews"), ("/reports", "reports"), ("/audit", "audit"),
                       ("/plans", "plans")):
        browser.get(console.url + path)
        assert "Not allowed" not in browser.title and "detail" not in browser.page_source[:200], path
        shoot(browser, name)
    browser.get(console.url + "/people/E1002")
    assert "Every grant, everywhere" in browser.page_source and "Dana" in browser.page_source
    browser.get(console.url + "/audit")
    assert "the hash chain is intact" in browser.find_element(By.ID, "chain").text
    browser.get(console.url + "/docs")
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    assert "/v1/offboarding" in browser.page_source, "Swagger UI from the package renders the API offline"


def test_four_eyes_refuses_a_first_persons_own_plan_and_a_second_person_approves(console: Console,
                                                                                 browser: Any) -> None:
    login(browser, console, "itlead")
    browser.get(console.url + "/plans")
    submit(browser, "start-plan")
    WebDriverWait(browser, 60).until(lambda d: "/plans/" in d.current_url)
    plan_id = int(browser.current_url.rsplit("/", 1)[1])
    assert steady(lambda: browser.find_element(By.ID, "plan-status").text) == "needs approval", flash(browser)
    assert q(console, "SELECT started_by FROM plan WHERE id = :p", p=plan_id) == "principal:it-lead"
    submit(browser, "approve")
    assert "Refused" in flash(browser), flash(browser)
    assert q(console, "SELECT status FROM plan WHERE id = :p", p=plan_id) == "needs_approval"
    assert q(console, "SELECT actor FROM audit_event WHERE kind = 'plan.approval_refused' AND subject = :s",
             s=f"plan:{plan_id}") == "principal:it-lead"

    login(browser, console, "ciso")
    browser.get(f"{console.url}/plans/{plan_id}")
    assert "DELETE" in browser.page_source or "POST" in browser.page_source, "each revocation's request is shown"
    shoot(browser, "plan", readme="plan")
    browser.find_element(By.ID, "note").send_keys("change CAB-42")
    submit(browser, "approve")
    assert "approved by CISO" in flash(browser)
    assert steady(lambda: browser.find_element(By.ID, "plan-status").text) == "approved"
    assert q(console, "SELECT approved_by FROM plan WHERE id = :p", p=plan_id) == "principal:ciso"
    assert q(console, "SELECT actor FROM audit_event WHERE kind = 'plan.approved' AND subject = :s",
             s=f"plan:{plan_id}") == "principal:ciso"


def test_a_reviewer_decides_a_review_item(console: Console, browser: Any) -> None:
    login(browser, console, "alex")
    campaign = q(console, "SELECT id FROM review_campaign WHERE status = 'open' ORDER BY id DESC LIMIT 1")
    browser.get(f"{console.url}/reviews")
    browser.find_element(By.LINK_TEXT, "quarterly-access").click() if browser.find_elements(
        By.LINK_TEXT, "quarterly-access") else browser.get(f"{console.url}/reviews/{campaign}")
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=item]")
    assert boxes, "Alex has items to review"
    shoot(browser, "review-inbox", readme="review-inbox")
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=item]")
    item = int(boxes[0].get_attribute("value"))
    boxes[0].click()
    Select(browser.find_element(By.ID, "decision")).select_by_value("revoke")
    browser.find_element(By.ID, "justification").send_keys("left the social team in September")
    submit(browser, "decide")
    assert "1 item(s): revoke" in flash(browser)
    assert q(console, "SELECT decision FROM review_item WHERE id = :i", i=item) == "revoke"
    decided_by = q(console, "SELECT decided_by FROM review_item WHERE id = :i", i=item)
    assert decided_by.startswith("principal:"), decided_by
    assert q(console, "SELECT actor FROM audit_event WHERE kind = 'review.decided' ORDER BY id DESC LIMIT 1") \
        == decided_by


def test_hr_offboards_a_person_and_sees_the_receipt(console: Console, browser: Any) -> None:
    login(browser, console, "jordan")
    browser.get(console.url + "/people/E1003")
    assert "Sam" in browser.page_source
    shoot(browser, "person-hr")
    browser.find_element(By.ID, "ob-reason").send_keys("left the company")
    submit(browser, "offboard")
    WebDriverWait(browser, 90).until(lambda d: "/offboardings/" in d.current_url)
    assert "Offboarding receipt" in browser.page_source and "Sam" in browser.page_source
    status = browser.find_element(By.ID, "receipt-status").text
    assert status in ("done", "partially done", "in progress"), status
    by = q(console, "SELECT requested_by FROM offboarding WHERE person_key = 'E1003'")
    assert by.startswith("principal:"), by
    shoot(browser, "receipt")
    browser.get(console.url + "/offboardings")
    shoot(browser, "offboardings")


def _downloaded(browser: Any, suffix: str, seconds: float = 60) -> Path:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done = [p for p in browser.downloads.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.3)
    raise AssertionError(f"no {suffix} downloaded: {list(browser.downloads.iterdir())}")


def test_an_auditor_downloads_an_xlsx_and_the_evidence_pack(console: Console, browser: Any) -> None:
    from accessward.reports import evidence, keys

    login(browser, console, "ciso")
    browser.get(console.url + "/reports")
    browser.find_element(By.ID, "dl-findings-xlsx").click()
    book = openpyxl.load_workbook(_downloaded(browser, "findings.xlsx"))
    rows = book["findings"].max_row - 1
    assert rows == q(console, "SELECT COUNT(*) FROM finding"), rows
    browser.find_element(By.ID, "download-pack").click()
    pack = _downloaded(browser, ".zip", 120)
    assert zipfile.is_zipfile(pack)
    result = evidence.verify(pack, public_key=keys.load_public(console.directory / "accessward.pub"))
    assert result.ok and result.files > 10, result.problems


def test_no_session_or_a_forged_csrf_token_changes_nothing(console: Console, browser: Any) -> None:
    campaign = q(console, "SELECT id FROM review_campaign WHERE status = 'open' ORDER BY id DESC LIMIT 1")
    pending = q(console, "SELECT COUNT(*) FROM review_item WHERE campaign_id = :c AND decision IS NULL", c=campaign)
    events = q(console, "SELECT COUNT(*) FROM audit_event WHERE kind LIKE 'review.decided%'")
    plans = q(console, "SELECT COUNT(*) FROM plan")
    # no session at all
    anon = httpx.post(f"{console.url}/plans", data={"csrf": "x"}, follow_redirects=False)
    assert anon.status_code in (401, 403)
    anon = httpx.post(f"{console.url}/reviews/{campaign}/decisions",
                      data={"csrf": "x", "item": "1", "decision": "revoke", "justification": "x"})
    assert anon.status_code in (401, 403)
    assert httpx.get(f"{console.url}/plans", follow_redirects=False).headers["location"].startswith("/login")
    # a real session, a forged token
    login(browser, console, "alex")
    browser.get(f"{console.url}/reviews/{campaign}")
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=item]")
    assert boxes
    boxes[0].click()
    browser.find_element(By.ID, "justification").send_keys("forged")
    browser.execute_script("document.querySelector('#decide-form input[name=csrf]').value = 'forged-token'")
    submit(browser, "decide")
    WebDriverWait(browser, 20).until(lambda d: "Not allowed" in d.title)
    assert "security token" in browser.page_source
    # a login whose groups map to no role gets no session
    login(browser, console, "nobody", expect_role=False)
    assert "no group that gives a role" in browser.page_source
    browser.get(console.url + "/")
    assert "/login" in browser.current_url
    assert q(console, "SELECT COUNT(*) FROM review_item WHERE campaign_id = :c AND decision IS NULL",
             c=campaign) == pending
    assert q(console, "SELECT COUNT(*) FROM audit_event WHERE kind LIKE 'review.decided%'") == events
    assert q(console, "SELECT COUNT(*) FROM plan") == plans
