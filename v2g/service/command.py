"""``v2g serve [--config site.toml] [--host H] [--port P]`` and
``v2g token create --role ROLE [--config site.toml]`` and
``v2g station create --id ID [--config site.toml]``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from v2g.api.roles import DRIVER, ROLES
from v2g.cli_arguments import port_number
from v2g.clock import SystemClock
from v2g.config import ConfigError
from v2g.portfolio.config import is_portfolio_file, load_portfolio_config
from v2g.service.config import SiteConfig, load_site_config
from v2g.store import (
    SqlStationStore,
    SqlTokenStore,
    StationExists,
    StoreUnavailable,
    open_store,
)
from v2g.store.drivers import SqlDriverStore
from v2g.store.engine import unavailable


class ServiceUsageError(Exception):
    """A site configuration or option that cannot run (exit 2)."""


def add_service_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser(
        "serve",
        help="the aggregator service: API, dashboard, cycle",
        epilog="The site TOML: docs/configuration.md. Routes and wire names: docs/api.md.",
    )
    serve.add_argument(
        "--config", type=Path, default=None, help="site TOML file (docs/configuration.md)"
    )
    serve.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=None, help="listen port (default 8080)")

    token = commands.add_parser("token", help="API tokens")
    actions = token.add_subparsers(dest="token_action", required=True)
    create = actions.add_parser("create", help="create a token, print it once")
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument(
        "--driver", default=None, help="role driver: the driver the token speaks for"
    )
    create.add_argument("--config", type=Path, default=None, help="site TOML file")

    station = commands.add_parser("station", help="OCPP charging stations")
    station_actions = station.add_subparsers(dest="station_action", required=True)
    register = station_actions.add_parser(
        "create", help="register a station, print its basic-auth password once"
    )
    register.add_argument("--id", required=True, dest="station_id", help="OCPP station identity")
    register.add_argument("--config", type=Path, default=None, help="site TOML file")


def _config(path: Path | None) -> SiteConfig:
    """The site in ``path``; for a portfolio file, its store and API (``token create``
    and ``station create`` write to the portfolio's store)."""
    try:
        if is_portfolio_file(path):
            assert path is not None
            return load_portfolio_config(path).service
        return load_site_config(path)
    except ConfigError as error:
        where = f"{path}: " if path else ""
        raise ServiceUsageError(where + "; ".join(error.problems)) from error


def _app(path: Path | None) -> tuple[web.Application, SiteConfig]:
    """The service for ``path``: a portfolio's with ``[cluster]``, else a site's."""
    if is_portfolio_file(path):
        from v2g.portfolio.service import portfolio_app

        assert path is not None
        try:
            portfolio = load_portfolio_config(path)
        except ConfigError as error:
            raise ServiceUsageError(f"{path}: " + "; ".join(error.problems)) from error
        return portfolio_app(portfolio), portfolio.service
    from v2g.service.assembly import service_app

    config = _config(path)
    return service_app(config), config


def run_serve(args: argparse.Namespace) -> None:
    from v2g.api.app import LINGERING_S

    app, config = _app(args.config)
    host = args.host or config.host
    port = args.port or config.port

    def started(_: str) -> None:
        print(how_to_open(host, port, args.config), file=sys.stderr, flush=True)

    try:
        web.run_app(app, host=host, port=port, print=started, lingering_time=LINGERING_S)
    except ConfigError as error:
        raise ServiceUsageError("; ".join(error.problems)) from error
    except StoreUnavailable as error:
        raise ServiceUsageError(str(error)) from error
    except OSError as error:
        raise ServiceUsageError(f"cannot serve on {host}:{port}: {error}") from error


def how_to_open(host: str, port: int, config: Path | None) -> str:
    """What ``v2g serve`` says once it listens: its address and how to open the
    dashboard (which needs a token; the service never prints one on its own)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    with_config = f" --config {config}" if config else ""
    return (
        f"v2g serve: listening on {host}:{port} (API {url}api/v1, Ctrl-C stops)\n"
        f"  dashboard: {url}#token=TOKEN, with TOKEN from "
        f"`v2g token create --role viewer{with_config}`"
    )


async def create_token(
    config: SiteConfig, role: str, driver_id: str | None = None
) -> tuple[str, str]:
    """A new token for ``role`` (and ``driver_id``, a registered driver, for role
    driver) in ``config``'s store: its public id and the token."""
    if (role == DRIVER) != (driver_id is not None):
        raise ServiceUsageError("--driver ID goes with --role driver, and only with it")
    directory = config.data_dir()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    engine = await open_store(config.store_url)
    try:
        if driver_id is not None and await SqlDriverStore(engine).driver(driver_id) is None:
            raise ServiceUsageError(
                f"no driver {driver_id}: register it first (POST /api/v1/drivers)"
            )
        holder, token = await SqlTokenStore(engine).create(role, SystemClock().now(), driver_id)
    except (SQLAlchemyError, OSError) as error:
        raise unavailable(engine, error) from error
    finally:
        await engine.dispose()
    return holder.token_id, token


def run_token(args: argparse.Namespace) -> str:
    """Creates the token and returns it (to print once); says which on stderr."""
    try:
        token_id, token = asyncio.run(create_token(_config(args.config), args.role, args.driver))
    except StoreUnavailable as error:
        raise ServiceUsageError(str(error)) from error
    print(f"{args.role} token {token_id}: shown once, stored only as a hash", file=sys.stderr)
    return token


async def create_station(config: SiteConfig, station_id: str) -> str:
    """Registers ``station_id`` in ``config``'s store; returns its password."""
    directory = config.data_dir()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    engine = await open_store(config.store_url)
    try:
        return await SqlStationStore(engine).create(station_id, SystemClock().now())
    except (StationExists, ValueError) as error:
        raise ServiceUsageError(str(error)) from error
    finally:
        await engine.dispose()


def run_station(args: argparse.Namespace) -> str:
    """Creates the station and returns its password (to print once)."""
    password = asyncio.run(create_station(_config(args.config), args.station_id))
    print(
        f"station {args.station_id}: basic-auth password shown once, stored only as a hash",
        file=sys.stderr,
    )
    return password
