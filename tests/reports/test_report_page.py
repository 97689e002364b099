"""The HTML report in a real headless Chromium with no network, and the PDF read back with pypdf."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from accessward.connectors.records import Level, PersonStatus
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.reports import render
from accessward.reports.catalog import Query
from accessward.sync.runner import sync_access, sync_identity
from tests.conftest import need_service
from tests.fakes import FakeAccess, FakeIdentity, person

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
EVIL = '=HYPERLINK("http://evil.example/","x")'


@pytest.fixture
def store(sqlite_engine):
    people = [person("ann"), person("dana", status=PersonStatus.terminated), person("zoe")]
    sync_identity(sqlite_engine, FakeIdentity(people=people))
    grants = [("ann", "page", "MANAGE", Level.admin), ("dana", "page", "MANAGE", Level.admin),
              ("dana", "blog", "ANALYZE", Level.read_only), ("zoe", "page", "CREATE_CONTENT", Level.full_publishing),
              ("ghost", "page", "ANALYZE", Level.read_only), ("ghost", "blog", "ANALYZE", Level.read_only)]
    sync_access(sqlite_engine, FakeAccess(grants=grants, facts={"zoe": {"mfa": False}}))
    sync_access(sqlite_engine, FakeAccess(name="tiktok", grants=[("dana", "adv", "Admin", Level.admin)]))
    with sqlite_engine.begin() as conn:
        conn.exec_driver_sql("UPDATE account SET display_name = ? WHERE external_id = 'ghost'", (EVIL,))
    reconcile(sqlite_engine, PolicySettings())
    return sqlite_engine


def write(store, tmp_path: Path, fmt: str) -> Path:
    query = Query.now()
    path = tmp_path / f"report.{fmt}"
    render.write(store, render.sections_for(store, ["findings", "access"], query), query, fmt, path,
                 title="Accessward test report")
    return path


def test_the_pdf_holds_the_report(store, tmp_path):
    path = write(store, tmp_path, "pdf")
    text = "\n".join(page.extract_text() for page in PdfReader(path).pages)
    for expected in ("Accessward test report", "Findings", "orphaned", "terminated", "critical",
                     "Open findings by rule and severity", "Access by level per platform", "Audit chain"):
        assert expected in text, expected
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / "report.pdf")


def test_the_page_needs_no_network(store, tmp_path):
    page = write(store, tmp_path, "html").read_text()
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert page.count("<svg") == 4 and "&#39;=HYPERLINK" in page, "formulas neutralised, markup escaped"


@pytest.mark.slow
def test_the_page_in_headless_chromium(store, tmp_path):
    need_service("chromium", os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver"))
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    path = write(store, tmp_path, "html")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1800", "--host-resolver-rules=MAP * ~NOTFOUND",  # no name resolves...
                "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>",  # ...and no proxy answers
                "--no-first-run", "--disable-background-networking", "--disable-component-update"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(path.as_uri())
        tables = driver.find_elements(By.CSS_SELECTOR, "table.report")
        assert [t.get_attribute("data-report") for t in tables] == ["findings", "access"]
        rows = tables[0].find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) >= 5
        charts = driver.find_elements(By.CSS_SELECTOR, "figure.chart svg")
        assert {c.find_element(By.XPATH, "..").get_attribute("data-chart") for c in charts} == {
            "findings_by_rule", "findings_by_severity", "time_to_revoke", "access_by_level"}
        assert all(c.size["width"] > 100 and c.size["height"] > 50 for c in charts), "drawn, not empty"
        assert driver.find_elements(By.CSS_SELECTOR, "figure[data-chart=findings_by_rule] svg rect.rect")
        tiles = {t.find_element(By.CLASS_NAME, "k").text: t.find_element(By.CLASS_NAME, "v").text
                 for t in driver.find_elements(By.CSS_SELECTOR, ".tile")}
        assert tiles["Audit chain"] == "verified" and int(tiles["Open findings"]) == len(rows)
        # sort by severity (a click), then filter (typing): the script works
        header = [h.text for h in tables[0].find_elements(By.CSS_SELECTOR, "th")]
        sev = header.index("severity")
        tables[0].find_elements(By.CSS_SELECTOR, "th")[sev].click()
        values = [r.find_elements(By.TAG_NAME, "td")[sev].text for r in tables[0].find_elements(By.CSS_SELECTOR,
                                                                                              "tbody tr")]
        rank = ("critical", "high", "medium", "low")
        assert values == sorted(values, key=rank.index) and values[0] == "critical", "worst first"
        box = driver.find_element(By.CSS_SELECTOR, "input[data-for=t-findings]")
        box.send_keys("tiktok")
        shown = [r for r in tables[0].find_elements(By.CSS_SELECTOR, "tbody tr") if r.is_displayed()]
        assert shown and all("tiktok" in r.text for r in shown) and len(shown) < len(rows)
        box.clear()
        box.send_keys(" ")
        box.clear()
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "report.png"))
        requests = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
        urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
        assert urls and all(u.startswith(("file://", "data:")) for u in urls), urls
    finally:
        driver.quit()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
