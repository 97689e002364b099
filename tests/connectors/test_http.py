"""The shared HTTP client: retries, Retry-After, redirects, JSON, paging guards."""

from __future__ import annotations

import httpx
import pytest

from accessward.connectors.errors import AuthError, MalformedResponseError, NotFoundError, TransientError
from accessward.connectors.http import HttpClient, follow_next_links, offset_pages, parse_retry_after


def client(handler, **kw) -> tuple[HttpClient, list[float]]:
    waits: list[float] = []
    c = HttpClient("test", "https://api.test/v1", transport=httpx.MockTransport(handler), sleep=waits.append,
                   **kw)
    return c, waits


def test_retries_transient_answers_honouring_retry_after():
    answers = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(503),
                    httpx.Response(200, json={"ok": True})])
    c, waits = client(lambda req: next(answers), backoff=0.5)
    assert c.get_json("things") == {"ok": True}
    assert waits[0] == 3 and 0.5 <= waits[1] <= 1.25 and c.calls == 3


def test_gives_up_after_max_attempts():
    c, waits = client(lambda req: httpx.Response(502), max_attempts=3)
    with pytest.raises(TransientError) as err:
        c.get_json("things")
    assert err.value.status == 502 and len(waits) == 2


def test_a_wait_longer_than_allowed_is_not_slept():
    c, waits = client(lambda req: httpx.Response(429, headers={"Retry-After": "3600"}), max_wait=60)
    with pytest.raises(TransientError, match="more than 60s"):
        c.get_json("things")
    assert waits == []


def test_redirect_is_a_failure_never_followed():
    c, _ = client(lambda req: httpx.Response(302, headers={"location": "https://login.test/sso"}))
    with pytest.raises(MalformedResponseError, match="redirect"):
        c.get_json("things")
    assert c.calls == 1


def test_html_is_not_json():
    c, _ = client(lambda req: httpx.Response(200, text="<html>Sign in</html>", headers={"content-type": "text/html"}))
    with pytest.raises(MalformedResponseError, match="expected JSON"):
        c.get_json("things")


@pytest.mark.parametrize(("status", "error"), [(401, AuthError), (403, AuthError), (404, NotFoundError)])
def test_status_mapping(status, error):
    c, _ = client(lambda req: httpx.Response(status, json={}))
    with pytest.raises(error):
        c.get_json("things")


def test_auth_headers_are_asked_for_on_every_attempt():
    tokens = iter(["old", "new"])
    seen = []

    def handler(req):
        seen.append(req.headers["Authorization"])
        return httpx.Response(503) if len(seen) == 1 else httpx.Response(200, json={})

    c, _ = client(handler, auth=lambda: {"Authorization": f"Bearer {next(tokens)}"})
    c.get_json("x")
    assert seen == ["Bearer old", "Bearer new"]


def test_follow_next_links_pages_and_guards():
    pages = {
        "/v1/items": {"data": [{"n": 1}], "next": "https://api.test/v1/items?after=1"},
        "/v1/items?after=1": {"data": [{"n": 2}], "next": None},
    }
    c, _ = client(lambda req: httpx.Response(200, json=pages[req.url.raw_path.decode()]))
    items = list(follow_next_links(c, "items", None, items_key="data", next_link=lambda b: b.get("next")))
    assert [i["n"] for i in items] == [1, 2]

    loop, _ = client(lambda req: httpx.Response(200, json={"data": [], "next": "https://api.test/v1/items?x=1"}))
    with pytest.raises(MalformedResponseError, match="loops"):
        list(follow_next_links(loop, "items", None, items_key="data", next_link=lambda b: b.get("next")))

    away, _ = client(lambda req: httpx.Response(200, json={"data": [], "next": "https://evil.test/steal"}))
    with pytest.raises(MalformedResponseError, match="another host"):
        list(follow_next_links(away, "items", None, items_key="data", next_link=lambda b: b.get("next")))

    missing, _ = client(lambda req: httpx.Response(200, json={"error": "nope"}))
    with pytest.raises(MalformedResponseError, match="no list 'data'"):
        list(follow_next_links(missing, "items", None, items_key="data", next_link=lambda b: None))


def test_offset_pages_stop_on_a_short_page():
    data = list(range(7))

    def handler(req):
        start, count = int(req.url.params["start"]), int(req.url.params["count"])
        return httpx.Response(200, json={"elements": [{"n": n} for n in data[start:start + count]]})

    c, _ = client(handler)
    got = [e["n"] for e in offset_pages(c, "acl", None, items_key="elements", start_param="start",
                                        count_param="count", page_size=3)]
    assert got == data and c.calls == 3


def test_parse_retry_after():
    assert parse_retry_after("5") == 5 and parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_usage_headers_pause_the_next_call():
    from accessward.connectors.http import usage_pause

    busy = httpx.Response(200, json={}, headers={"X-App-Usage": '{"call_count":97,"total_cputime":10,"total_time":5}'})
    assert usage_pause(busy) == 0, "a percentage alone is no wait"
    buc = httpx.Response(200, json={}, headers={"X-Business-Use-Case-Usage": '{"123":[{"type":"pages",'
                                                '"call_count":100,"estimated_time_to_regain_access":2}]}'})
    assert usage_pause(buc) == 120
    spent = httpx.Response(200, json={}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000000042"})
    assert usage_pause(spent, now=1_000_000_000) == 42

    answers = iter([buc, httpx.Response(200, json={"ok": 1})])
    c, waits = client(lambda req: next(answers))
    c.get_json("a")
    c.get_json("b")
    assert len(waits) == 1 and 119 < waits[0] <= 120, "the second call waited for the budget"
