"""Errors as ``application/problem+json`` (RFC 9457), each with a human ``detail``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import typedefs, web

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = typedefs.Middleware


class Problem(Exception):
    """An error to answer with: HTTP status, a short title, a human detail, and
    optional ``errors`` (one line per offending field)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}


def problem_response(
    status: int, title: str, detail: str, errors: list[str] | None = None, **headers: str
) -> web.Response:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if errors:
        body["errors"] = errors
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type=PROBLEM_JSON,
        headers=headers,
    )


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns every error (ours, aiohttp's 404/405/413, a bug) into problem+json."""
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(
            problem.status, problem.title, problem.detail, problem.errors, **problem.headers
        )
    except web.HTTPException as error:
        if error.status < 400:
            raise
        detail = error.text or error.reason
        if error.status == 413:
            detail = f"request body too large ({error.text})"
        elif detail.startswith(f"{error.status}:"):  # aiohttp's "404: Not Found"
            detail = error.reason
        extra = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else {}
        return problem_response(error.status, error.reason, detail or error.reason, None, **extra)
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return problem_response(500, "Internal Server Error", "the server failed; see its log")
