"""The browser tests' live server closes every response, even one the browser abandoned."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

from tests.e2e.conftest import closing_responses


class Body:
    """A response body that records whether it was closed (like werkzeug's file wrapper)."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"first"
        yield b"second"

    def close(self) -> None:
        self.closed = True


def _serve(body: Body) -> Iterator[bytes]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    started: list[str] = []
    response = closing_responses(app)({}, lambda status, headers: started.append(status))
    assert started == ["200 OK"]  # the app ran at once, not on the first chunk
    return iter(response)


def test_a_response_read_to_the_end_is_closed() -> None:
    body = Body()
    response = _serve(body)
    assert list(response) == [b"first", b"second"]
    assert body.closed


def test_a_response_abandoned_mid_way_is_closed_when_dropped() -> None:
    body = Body()
    response = _serve(body)
    assert next(response) == b"first"
    assert not body.closed
    del response  # what werkzeug's server does when the browser disconnects
    gc.collect()
    assert body.closed
