"""The operator HTTP API and the live dashboard (see README.md beside this file)."""

from v2g.api.app import ROUTES, make_app
from v2g.api.openapi import Route
from v2g.api.services import SERVICES, Services, open_services, provide

__all__ = ["ROUTES", "SERVICES", "Route", "Services", "make_app", "open_services", "provide"]
