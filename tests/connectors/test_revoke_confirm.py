"""The shared pieces of the token connectors: scrubbing every token, and settling an ambiguous removal."""

from __future__ import annotations

import pytest

from accessward.connectors.errors import NotFoundError, RejectedError
from accessward.connectors.http import HttpClient
from accessward.connectors.records import RevokeOutcome
from accessward.connectors.revoke_confirm import TokenConnector, scrub_tokens, settle


class _Connector(TokenConnector):
    def __init__(self, token: str, extra: tuple[str, ...] = ()) -> None:
        self.name = "t"
        self._token = token
        self._extra = extra
        self._client = HttpClient("t", "http://127.0.0.1:9", auth=self._auth_headers)

    def _secrets(self) -> tuple[str, ...]:
        return (self._token, *self._extra)


def test_every_token_is_scrubbed_from_args_and_detail() -> None:
    exc = RejectedError("refused for tok-AAA and page-BBB", detail="echo tok-AAA page-BBB", system="t")
    with _Connector("tok-AAA", ("page-BBB",)) as connector:
        assert connector._auth_headers() == {"Authorization": "Bearer tok-AAA"}
        connector._scrub(exc)
    assert "tok-AAA" not in str(exc) + exc.detail and "page-BBB" not in str(exc) + exc.detail
    assert str(exc) == "refused for *** and ***" and exc.detail == "echo *** ***"
    empty = RejectedError("nothing to hide", detail="x")
    scrub_tokens(empty, ("",))  # an unset token replaces nothing (not every gap between characters)
    assert str(empty) == "nothing to hide" and empty.detail == "x"


def test_settle_gone_is_already_gone_and_still_there_is_the_platforms_refusal() -> None:
    cause = NotFoundError("404", detail="Graph said no", status=404, code=100)
    gone = settle(False, gone="no longer assigned", refused="never raised", system="t", cause=cause)
    assert (gone.outcome, gone.detail) == (RevokeOutcome.already_gone, "no longer assigned")
    with pytest.raises(RejectedError) as raised:
        settle(True, gone="x", refused="Meta refused to remove 5", system="t", cause=cause)
    assert str(raised.value) == "Meta refused to remove 5" and raised.value.__cause__ is cause
    assert (raised.value.detail, raised.value.status, raised.value.code, raised.value.system) == (
        "Graph said no", 404, 100, "t")
    with pytest.raises(RejectedError) as without_code:
        settle(True, gone="x", refused="r", system="t", cause=cause, keep_code=False)
    assert without_code.value.code is None and without_code.value.status == 404
    with pytest.raises(RejectedError) as no_cause:
        settle(True, gone="x", refused="r", system="t", detail="left out of deleted_members")
    assert (no_cause.value.detail, no_cause.value.status, no_cause.value.__cause__) == (
        "left out of deleted_members", None, None)
