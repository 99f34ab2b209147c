"""Requests built to leak or to hold: a token with a control character or over 8 KB
never reaches the log, odd ``limit`` values get 400, and a body announced but never
sent does not hold the connection."""

from __future__ import annotations

import asyncio
import logging

import pytest

from v2g.api import wire

SECRET = "s3cr3t-T0KEN-do-not-log"


async def raw_exchange(api, request: bytes, timeout_s: float = 5.0) -> bytes:
    """Send ``request`` as is; everything the server answers until it closes."""
    server = api.client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=timeout_s)
    finally:
        writer.close()


def logged(caplog) -> str:
    return "\n".join(
        f"{r.getMessage()}\n{r.exc_text or ''}\n{r.exc_info or ''}" for r in caplog.records
    )


@pytest.mark.parametrize(
    "value",
    [
        f"Bearer {SECRET}\x01x",
        f"Bearer {SECRET}\rx",
        f"Bearer {SECRET}\x00x",
        f"Bearer {SECRET}" + "a" * 9000,
    ],
    ids=["SOH", "CR", "NUL", "over 8 KB"],
)
async def test_a_malformed_authorization_header_never_reaches_the_log(api, caplog, value):
    caplog.set_level(logging.DEBUG)
    request = f"GET /api/v1/fleet HTTP/1.1\r\nHost: x\r\nAuthorization: {value}\r\n\r\n"
    answer = await raw_exchange(api, request.encode("latin-1"))
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
    assert SECRET not in logged(caplog)
    assert any("malformed request refused" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A3", "9" * 5000, "00000000001", "-1", "1e3"])
async def test_odd_limits_get_a_problem_400_not_a_500(api, limit):
    response = await api.client.get(f"/api/v1/sessions?limit={limit}", headers=api.auth("viewer"))
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    assert "limit" in (await response.json())["detail"]


async def test_a_body_announced_at_10_gb_is_refused_at_once(api):
    token = api.tokens["utility"]
    request = (
        "POST /api/v1/dr-events HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 10000000000\r\n\r\n"
    )
    started = asyncio.get_running_loop().time()
    answer = await raw_exchange(api, request.encode(), timeout_s=15)
    assert b" 413 " in answer.split(b"\r\n")[0]
    assert b"application/problem+json" in answer
    assert asyncio.get_running_loop().time() - started < 3  # closed after LINGERING_S, not held
    assert api.services.aggregator.state.events.events == {}


async def test_a_body_that_stalls_gets_408_and_changes_nothing(api, monkeypatch):
    monkeypatch.setattr(wire, "BODY_READ_TIMEOUT_S", 0.3)
    token = api.tokens["utility"]
    request = (
        "POST /api/v1/dr-events HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        'Content-Length: 500\r\n\r\n{"id": "evt-1"'
    )
    started = asyncio.get_running_loop().time()
    answer = await raw_exchange(api, request.encode(), timeout_s=15)
    assert b" 408 " in answer.split(b"\r\n")[0]
    assert asyncio.get_running_loop().time() - started < 3
    assert api.services.aggregator.state.events.events == {}
    assert await api.services.audit.entries() == []
