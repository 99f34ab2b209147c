"""The ``v2g`` command. Exit status: 0 ok, 1 failed run, 2 bad usage/input."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from v2g.cli_arguments import (
    OneLineParser,
    bounded_float,
    bounded_int,
    finite_float,
    log_level,
    writable_folder,
)
from v2g.log_setup import configure_logging

if TYPE_CHECKING:
    from v2g.ocpp.charging_station import ChargingStationLink
    from v2g.secc.codec import Exchange
    from v2g.secc.station import Station

logger = logging.getLogger("v2g")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

#: Where ``--help`` sends a reader for the file formats and wire names.
DOCS_EPILOG = (
    "Reference (in the repository's docs/ folder): scenario.md (v2g simulate), "
    "configuration.md (site and charger TOML), api.md (HTTP API), architecture.md."
)


class UsageError(Exception):
    """Bad usage or bad input: exit 2 with a one-line reason."""


class RunFailed(Exception):
    """A run that started and failed: exit 1 with a one-line reason."""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("v2g")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    from v2g.secc.loopback import FAULTS, PROTOCOLS

    parser = OneLineParser(prog="v2g", description=__doc__, epilog=DOCS_EPILOG)
    parser.add_argument("--version", action="version", version=f"v2g {_version()}")
    parser.add_argument(
        "--log-level", default="INFO", type=log_level, help="DEBUG, INFO, WARNING, ERROR"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    loopback = commands.add_parser(
        "loopback", help="one ISO 15118 session: this SECC against the iso15118 EVCC (root)"
    )
    loopback.add_argument("--protocol", required=True, choices=PROTOCOLS)
    loopback.add_argument("--control", default="dynamic", choices=("dynamic", "scheduled"))
    loopback.add_argument(
        "--setpoint-w",
        type=finite_float,
        default=None,
        help="mailbox setpoint in W (+ charges, - discharges)",
    )
    loopback.add_argument("--codec", default="native", choices=("native", "java"))
    loopback.add_argument(
        "--charge-loops",
        type=bounded_int(1, 10_000),
        default=10,
        help="charge-loop requests the simulated EV sends",
    )
    loopback.add_argument(
        "--ev-timeout-scale",
        type=bounded_float(0.1, 100.0),
        default=1.0,
        help="multiply the EV's message timeouts (test benches only)",
    )
    loopback.add_argument(
        "--work-dir", type=Path, default=None, help="keep both sides' logs and results here"
    )
    loopback.add_argument("--json", action="store_true", help="print the report as JSON")
    loopback.add_argument(
        "--pki", type=Path, default=None, help="TLS and Plug & Charge from this PKI folder"
    )
    loopback.add_argument(
        "--cert-install", action="store_true", help="-2: the EV installs its contract first"
    )
    loopback.add_argument(
        "--fault",
        default=None,
        choices=FAULTS,
        help="inject this fault after a few charge-loop messages; the report says "
        "ended_by and ended_after_s",
    )
    loopback.add_argument(
        "--fault-in",
        default="charge-loop",
        choices=("charge-loop", "precharge"),
        help="where --fault comes: after a few charge-loop messages, or at the first "
        "PreCharge answer (DC; charger faults only)",
    )

    from v2g.grid_commands import add_grid_commands

    add_grid_commands(commands)

    from v2g.simulation.command import add_simulate_command

    add_simulate_command(commands)

    from v2g.demo.command import add_demo_command

    add_demo_command(commands)

    from v2g.service.command import add_service_commands

    add_service_commands(commands)

    from v2g.pki_commands import add_pki_commands

    add_pki_commands(commands)

    from v2g.exi.commands import add_exi_commands

    add_exi_commands(commands)

    secc = commands.add_parser(
        "secc",
        help="run the SECC on charger hardware",
        epilog="The charger TOML, key by key: docs/configuration.md.",
    )
    secc.add_argument(
        "--config", type=Path, required=True, help="charger TOML file (docs/configuration.md)"
    )
    return parser


def _loopback(args: argparse.Namespace) -> int:
    from v2g.secc.loopback import FAULT_AFTER_LOOPS
    from v2g.secc.loopback.netns import NetnsUnavailable
    from v2g.secc.loopback.run import run_loopback
    from v2g.secc.loopback.spec import LoopbackSpec

    try:
        spec = LoopbackSpec(
            protocol=args.protocol,
            control=args.control,
            codec=args.codec,
            setpoint_w=args.setpoint_w,
            charge_loop_cycles=args.charge_loops,
            ev_timeout_scale=args.ev_timeout_scale,
            pki_dir=str(args.pki.resolve()) if args.pki else None,
            cert_install=args.cert_install,
            fault=args.fault,
            fault_after_loops=0 if args.fault_in == "precharge" else FAULT_AFTER_LOOPS,
        )
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.pki is not None and not args.pki.is_dir():
        raise UsageError(f"--pki: {args.pki} is not a folder (make one with v2g pki init)")
    problem = None if args.work_dir is None else writable_folder(args.work_dir)
    if problem is not None:
        raise UsageError(f"--work-dir: {problem}")
    try:
        report = run_loopback(spec, args.work_dir)
    except NetnsUnavailable as error:
        raise UsageError(f"loopback needs network namespaces: {error}") from error
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        _print_loopback(report.to_json())
    if spec.fault is not None:  # the session was meant to end by the fault
        return EXIT_OK if report.ended_by == spec.fault else EXIT_FAILED
    return EXIT_OK if report.completed else EXIT_FAILED


def _print_loopback(report: dict[str, Any]) -> None:
    status = "completed" if report["completed"] else f"FAILED ({report['failure']})"
    print(f"{report['protocol']} ({report['control']}, {report['codec']} codec): {status}")
    for exchange in report["exchanges"]:
        print(
            f"  EV {exchange['request']:32} SECC {exchange['response']:32} "
            f"{exchange['response_ms']:8.1f} ms"
        )
    print(f"requests: {report['requests']}, charge loop: {report['charge_loop_requests']}")
    print(f"EV target power (W, + = charging): {report['ev_target_power_w']}")
    print(f"SECC response time (ms): {report['secc_response_ms']}")
    print(f"session: {report['session_s']} s")
    if report["fault"] is not None:
        print(
            f"fault {report['fault']}: ended by {report['ended_by']}, output at rest "
            f"{report['ended_after_s']} s after the fault"
        )


def _secc(args: argparse.Namespace) -> int:
    from v2g.clock import SystemClock
    from v2g.config import ConfigError
    from v2g.ocpp.charging_station import ChargingStationLink, load_charger
    from v2g.secc.codec import CodecUnavailable, RecordingCodec, make_codec, warm_up
    from v2g.secc.event_bus import after_the_answer
    from v2g.secc.station import Station

    try:
        # The charger file with its optional [ocpp] part (v2g secc as an OCPP station).
        config, ocpp, password = load_charger(args.config)
        codec = make_codec(config.codec)
    except ConfigError as error:
        raise UsageError(f"{args.config}: {error}") from error
    except CodecUnavailable as error:
        raise UsageError(str(error)) from error
    missing = _missing_interfaces(
        [evse.interface for evse in config.evses]
        + [evse.slac_interface for evse in config.evses if evse.slac and evse.slac_interface]
    )
    if missing:
        raise UsageError(f"{args.config}: no network interface named {', '.join(missing)}")
    configure_logging(config.log_level)
    warm_up(codec)
    try:
        station = Station(config, RecordingCodec(codec, _log_exchange), SystemClock())
    except ConfigError as error:
        raise UsageError(f"{args.config}: {error}") from error
    link = None
    if ocpp is not None:
        mailboxes = {evse_id: station.mailbox(evse_id) for evse_id in station.evses}
        link = ChargingStationLink(ocpp, password, mailboxes, SystemClock())
        station.events.subscribe(after_the_answer(link))
        if ocpp.authorize:
            from v2g.ocpp.station_authorize import StationAuthorization

            authorization = StationAuthorization(link, offline=link.local_list)
            for runtime in station.evses.values():
                authorization.guard(runtime.controller)
        if ocpp.forward_certificate_installation:
            from v2g.ocpp.station_certificates import forward_installations

            station.cpo_backend = True
            for runtime in station.evses.values():
                forward_installations(runtime.controller, link)
    try:
        asyncio.run(_run_secc(station, link))
    except KeyboardInterrupt:
        logger.info("SECC stopped")
        return EXIT_OK
    except Exception as error:  # the SECC failed after it started: a failed run
        logger.exception("SECC failed")
        raise RunFailed(f"the SECC failed: {type(error).__name__}: {error}") from error
    # The iso15118 handlers end (after logging their error) when they cannot serve,
    # e.g. an interface that went away: the SECC stopped without being asked to.
    raise RunFailed("the SECC stopped serving (its handlers ended; see the log above)")


def _missing_interfaces(names: Iterable[str]) -> list[str]:
    """The interface names among ``names`` this host does not have."""
    import socket

    missing = []
    for name in names:
        try:
            socket.if_nametoindex(name)
        except OSError:
            missing.append(name)
    return missing


async def _run_secc(station: Station, link: ChargingStationLink | None) -> None:
    if link is None:
        await station.run(own_process=True)
        return
    await asyncio.gather(station.run(), link.run())


def _log_exchange(exchange: Exchange) -> None:
    logger.info(
        "EV %s -> SECC %s in %.1f ms", exchange.request, exchange.response, exchange.response_ms
    )


def _grid(args: argparse.Namespace) -> int:
    from v2g.grid_commands import GridUsageError, run_grid_command

    try:
        report = run_grid_command(args)
    except GridUsageError as error:
        raise UsageError(str(error)) from error
    print(json.dumps(report.document, allow_nan=False) if args.json else report.text)
    return EXIT_OK if report.ok else EXIT_FAILED


def _simulate(args: argparse.Namespace) -> int:
    from v2g.simulation.command import SimulateUsageError, run_simulate, summary_text

    try:
        summary = run_simulate(args)
    except SimulateUsageError as error:
        raise UsageError(str(error)) from error
    print(json.dumps(summary) if args.json else summary_text(summary))
    return EXIT_OK


def _demo(args: argparse.Namespace) -> int:
    from v2g.demo.command import DemoUsageError, run_demo_command

    try:
        run_demo_command(args)
    except DemoUsageError as error:
        raise UsageError(str(error)) from error
    except KeyboardInterrupt:
        logger.info("demo stopped")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    from v2g.service.command import ServiceUsageError, run_serve

    try:
        run_serve(args)
    except ServiceUsageError as error:
        raise UsageError(str(error)) from error
    return EXIT_OK


def _token(args: argparse.Namespace) -> int:
    from v2g.service.command import ServiceUsageError, run_token

    try:
        print(run_token(args))
    except ServiceUsageError as error:
        raise UsageError(str(error)) from error
    return EXIT_OK


def _station(args: argparse.Namespace) -> int:
    from v2g.service.command import ServiceUsageError, run_station

    try:
        print(run_station(args))
    except ServiceUsageError as error:
        raise UsageError(str(error)) from error
    return EXIT_OK


def _pki(args: argparse.Namespace) -> int:
    from v2g.pki_commands import PkiUsageError, run_pki_command

    try:
        status, text = run_pki_command(args)
    except PkiUsageError as error:
        raise UsageError(str(error)) from error
    print(text)
    return status


def _exi(args: argparse.Namespace) -> int:
    from v2g.exi.commands import ExiUsageError, run_exi_command

    try:
        print(run_exi_command(args))
    except ExiUsageError as error:
        raise UsageError(str(error)) from error
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    handlers = {
        "loopback": _loopback,
        "secc": _secc,
        "grid": _grid,
        "simulate": _simulate,
        "demo": _demo,
        "serve": _serve,
        "token": _token,
        "station": _station,
        "pki": _pki,
        "exi": _exi,
    }
    try:
        return handlers[args.command](args)
    except UsageError as error:
        print(f"v2g {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RunFailed as error:
        print(f"v2g {args.command}: {error}", file=sys.stderr)
        return EXIT_FAILED
