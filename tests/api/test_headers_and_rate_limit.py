"""What every answer carries (no sniffing, no caching of data, the dashboard's
Content-Security-Policy), HEAD wherever GET works, and a rate limit per token that
refuses with 429 and changes nothing."""

from __future__ import annotations

import tomllib

import pytest

from v2g.api.ratelimit import RateLimit, TokenBuckets
from v2g.config import ConfigError
from v2g.service.config import parse_site_config


async def test_every_answer_forbids_content_sniffing(api):
    for path, headers in [
        ("/api/v1/health", {}),
        ("/api/v1/fleet", api.auth("viewer")),
        ("/api/v1/fleet", {}),  # 401
        ("/api/v1/nowhere", {}),  # 404
        ("/", {}),
        ("/static/dashboard.js", {}),
    ]:
        response = await api.client.get(path, headers=headers)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path


async def test_data_is_never_cached(api):
    for path in ("/api/v1/fleet", "/api/v1/plan", "/metrics"):
        response = await api.client.get(path, headers=api.auth("viewer"))
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store", path


async def test_the_dashboard_may_not_be_framed_and_loads_only_its_own_files(api):
    response = await api.client.get("/")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy and "unsafe-inline" not in policy


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/fleet", "/api/v1/plan", "/"])
async def test_head_answers_wherever_get_does_with_no_body(api, path):
    response = await api.client.head(path, headers=api.auth("viewer"))
    assert response.status == 200
    assert await response.read() == b""


async def test_head_on_a_protected_route_needs_a_token_like_get(api):
    response = await api.client.head("/api/v1/fleet")
    assert response.status == 401


async def test_a_token_over_its_rate_gets_429_with_retry_after_and_changes_nothing(api):
    api.services.buckets.limit = RateLimit(requests_per_s=0.01, burst=2)
    before = api.services.aggregator.state
    for _ in range(2):
        response = await api.client.get("/api/v1/fleet", headers=api.auth("operator"))
        assert response.status == 200
    refused = await api.client.post(
        "/api/v1/commands",
        json={"command": "set_fleet_cap", "power_w": 5000},
        headers=api.auth("operator"),
    )
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert "retry in" in (await refused.json())["detail"]
    assert api.services.aggregator.state is before
    # Another token is not held back by the first one's burst.
    other = await api.client.get("/api/v1/fleet", headers=api.auth("viewer"))
    assert other.status == 200


def test_a_bucket_refills_at_its_rate():
    now = [0.0]
    buckets = TokenBuckets(RateLimit(requests_per_s=2.0, burst=3), monotonic=lambda: now[0])
    assert [buckets.take("t") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("t") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("t") == 0.0
    assert buckets.take("other") == 0.0


@pytest.mark.parametrize(
    ("api_table", "problem"),
    [
        ("burst = 0", "api.burst"),
        ("burst = 1.5", "api.burst"),
        ("requests_per_s = 0", "api.requests_per_s"),
        ('requests_per_s = "lots"', "api.requests_per_s"),
    ],
)
def test_a_bad_rate_limit_is_named(api_table, problem):
    with pytest.raises(ConfigError) as raised:
        parse_site_config(tomllib.loads(f"[api]\n{api_table}\n"))
    assert problem in str(raised.value)


def test_the_rate_limit_is_read_from_the_api_table():
    config = parse_site_config(tomllib.loads("[api]\nrequests_per_s = 5\nburst = 10\n"))
    assert config.rate == RateLimit(requests_per_s=5.0, burst=10)
