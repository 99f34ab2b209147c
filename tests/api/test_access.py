"""Every protected route answers 401 without a valid token and 403 for a role it does
not serve; tokens never appear in logs or in the store."""

from __future__ import annotations

import logging

import pytest

from v2g.api.app import ROUTES
from v2g.api.openapi import openapi_document
from v2g.api.roles import ROLES

OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in openapi_document(ROUTES)["paths"].items()
    for method, operation in item.items()
    if method != "parameters"
]
PROTECTED = [(m, p, o["x-roles"]) for m, p, o in OPERATIONS if "x-roles" in o]


def concrete(path: str) -> str:
    return (
        path.replace("{evse_id}", "evse-a")
        .replace("{event_id}", "evt-1")
        .replace("{session_id}", "session-a")
        .replace("{driver_id}", "d-1")
        .replace("{reservation_id}", "r-1")
        .replace("{station_id}", "CS-1")
        .replace("{transaction_id}", "tx-1")
    )


async def test_every_protected_route_needs_a_token_and_refuses_other_roles(api):
    assert len(PROTECTED) >= 15
    for method, path, roles in PROTECTED:
        url = concrete(path)
        for headers in (
            {},
            {"Authorization": "Bearer v2g_nope_nope"},
            {"Authorization": "Basic x"},
        ):
            response = await api.client.request(method, url, headers=headers)
            assert response.status == 401, (method, path, headers)
            assert response.content_type == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert (await response.json())["detail"]
        wrong = [role for role in ROLES if role not in roles]
        assert wrong, f"{method} {path} has no wrong role to test"
        for role in wrong:
            response = await api.client.request(method, url, headers=api.auth(role))
            assert response.status == 403, (method, path, role)
            body = await response.json()
            assert role in body["detail"] and response.content_type == "application/problem+json"


async def test_public_routes_need_no_token(api):
    for path in ("/api/v1/health", "/api/v1/openapi.json", "/"):
        assert (await api.client.get(path)).status == 200, path


@pytest.mark.parametrize("role", ["viewer", "operator"])
async def test_readers_see_the_fleet_and_the_plan(api, role):
    fleet = await (await api.client.get("/api/v1/fleet", headers=api.auth(role))).json()
    assert {row["evse_id"] for row in fleet["vehicles"]} == {"evse-a", "evse-b"}


async def test_tokens_never_appear_in_logs_or_in_the_store(api, caplog):
    caplog.set_level(logging.DEBUG)
    for role, token in api.tokens.items():
        await api.client.get("/api/v1/plan", headers=api.auth(role))
        await api.client.get("/api/v1/fleet", headers={"Authorization": f"Bearer {token}x"})
        await api.client.post(
            "/api/v1/commands",
            headers=api.auth(role),
            json={"command": "set_fleet_cap", "power_w": 1},
        )
    await api.engine.dispose()  # checkpoint: everything is in the files now
    logged = caplog.text
    stored = b""
    for suffix in ("", "-wal", "-shm"):
        try:
            with open(api.db_path + suffix, "rb") as handle:
                stored += handle.read()
        except FileNotFoundError:
            pass
    assert stored
    for token in api.tokens.values():
        secret = token.split("_", 2)[2]  # v2g_<id>_<secret>; the secret may hold "_"
        assert secret not in logged
        assert secret.encode() not in stored
