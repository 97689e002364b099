"""Registering many secrets stays cheap, and each is still scrubbed (a listing registers every Page token)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from accessward.connectors import scrub


@pytest.fixture(autouse=True)
def _empty_registry() -> Iterator[None]:
    scrub.forget_all()
    yield
    scrub.forget_all()


def test_registering_many_tokens_one_by_one_is_linear_and_each_is_still_scrubbed() -> None:
    tokens = [f"EAAPpage{n:04d}-" + "x" * 30 for n in range(800)]
    start = time.process_time()
    for token in tokens:
        scrub.register(token)  # before the fix each call recompiled a pattern of every known token
    registering = time.process_time() - start
    assert registering < 1.0, registering  # was ~60 CPU-seconds for 800 tokens
    text = " ".join(f"token {t} leaked" for t in tokens[::97])
    cleaned = scrub.scrub(text)
    assert all(t not in cleaned for t in tokens)
    assert cleaned.count(scrub.REDACTED) == len(tokens[::97])
    late = "EAAPlate-registered-" + "y" * 30
    scrub.register(late)
    assert late not in scrub.scrub(f"after the pattern was built: {late}")  # a later secret is scrubbed too
