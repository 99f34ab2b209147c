"""``v2g exi decode | encode``: the EXI codec from the shell (README.md, Commands).

Bad input (unknown namespace, odd hex, invalid EXI, JSON that does not fit the schema)
raises ``ExiUsageError``, which the CLI turns into exit status 2 with a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import sys

from v2g.exi.errors import ExiDecodeError, ExiEncodeError
from v2g.exi.schemas import (
    APP_PROTOCOL,
    DIN,
    ISO2,
    ISO20_AC,
    ISO20_ACDP,
    ISO20_COMMON,
    ISO20_DC,
    ISO20_WPT,
    NAMESPACES,
    XML_DSIG,
)

#: Short names accepted by ``--ns`` besides the full namespace URIs.
ALIASES = {
    "sap": APP_PROTOCOL,
    "din": DIN,
    "iso2": ISO2,
    "iso20": ISO20_COMMON,
    "iso20-ac": ISO20_AC,
    "iso20-dc": ISO20_DC,
    "iso20-wpt": ISO20_WPT,
    "iso20-acdp": ISO20_ACDP,
    "xmldsig": XML_DSIG,
}


class ExiUsageError(Exception):
    """Bad input to an exi command (exit 2)."""


def add_exi_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    exi = commands.add_parser("exi", help="encode or decode one ISO 15118 EXI message")
    actions = exi.add_subparsers(dest="exi_command", required=True)
    decode = actions.add_parser("decode", help="EXI hex -> JSON (the iso15118 JSON shape)")
    decode.add_argument("hex", help="the EXI stream as hex ('-' reads stdin)")
    encode = actions.add_parser("encode", help="JSON -> EXI as lower-case hex")
    encode.add_argument("json", help="the message as JSON ('-' reads stdin)")
    for parser in (decode, encode):
        parser.add_argument(
            "--ns",
            required=True,
            help=f"schema namespace URI or one of: {', '.join(ALIASES)}",
        )
        parser.add_argument(
            "--codec",
            default="native",
            choices=("native", "java"),
            help="java: the iso15118 package's reference codec (starts a JVM)",
        )


def namespace(text: str) -> str:
    """The namespace URI for ``--ns`` (a URI or a short alias)."""
    resolved = ALIASES.get(text, text)
    if resolved not in NAMESPACES:
        raise ExiUsageError(f"unknown namespace {text!r}; use a URI or one of {list(ALIASES)}")
    return resolved


def run_exi_command(args: argparse.Namespace) -> str:
    """The text ``v2g exi ...`` prints: JSON for decode, hex for encode."""
    from v2g.secc.codec import make_codec

    ns = namespace(args.ns)
    codec = make_codec(args.codec)
    if args.exi_command == "decode":
        text = (sys.stdin.read() if args.hex == "-" else args.hex).strip()
        try:
            stream = bytes.fromhex(text)
        except ValueError as error:
            raise ExiUsageError(f"not hex: {error}") from None
        try:
            return codec.decode(stream, ns)
        except ExiDecodeError as error:
            raise ExiUsageError(f"cannot decode: {error}") from None
        except Exception as error:  # the Java codec raises plain Exceptions
            raise ExiUsageError(f"cannot decode: {_one_line(error)}") from None
    text = sys.stdin.read() if args.json == "-" else args.json
    try:
        json.loads(text)
    except ValueError as error:
        raise ExiUsageError(f"not JSON: {error}") from None
    try:
        return bytes(codec.encode(text, ns)).hex()
    except ExiEncodeError as error:
        raise ExiUsageError(f"cannot encode: {error}") from None
    except Exception as error:  # the Java codec raises plain Exceptions
        raise ExiUsageError(f"cannot encode: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:300]
