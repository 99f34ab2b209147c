"""The layering of docs/architecture.md, enforced: a pure core and standalone packages."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

#: Pure domain: plain synchronous Python, no I/O, no protocol stacks, no clocks.
PURE_CORE = [
    "v2g/session",
    "v2g/limits.py",
    "v2g/clock.py",
    "v2g/curves.py",
    "v2g/fleet",
    "v2g/envelope",
    "v2g/demand_response",
    "v2g/dispatch",
    "v2g/usage",
    "v2g/billing",
    "v2g/drivers",
    "v2g/forecast",
    "v2g/aggregator/state.py",
    "v2g/aggregator/snapshot.py",
    "v2g/openadr/signals.py",
    "v2g/openadr/oadr3_model.py",
    "v2g/ocpp/frames.py",
    "v2g/ocpp/wire.py",
    "v2g/ocpp/station.py",
    "v2g/ocpp/profiles.py",
    "v2g/ocpp/config.py",
    "v2g/ocpp/station_config.py",
    "v2g/ocpp/local_list.py",
    "v2g/slac/frames.py",
    "v2g/slac/machine.py",
    "v2g/portfolio/split.py",
]
IO_LIBRARIES = {
    "asyncio",
    "socket",
    "ssl",
    "subprocess",
    "threading",
    "http",
    "urllib",
    "sqlite3",
    "iso15118",
    "aiohttp",
    "pandas",
    "pandapower",
    "sqlalchemy",
    "apscheduler",
    "requests",
    "py4j",
    "openleadr",
    "time",
    "ray",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(*parts: str) -> list[Path]:
    files: list[Path] = []
    for part in parts:
        target = ROOT / part
        files.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return files


@pytest.mark.parametrize("path", python_files(*PURE_CORE), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_core_imports_no_io_library_and_no_edge(path):
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in IO_LIBRARIES, f"{path.name} imports {module}"
        assert not module.startswith(("v2g.secc", "v2g.cli")), f"{path.name} imports {module}"
        # The feeder model keeps calibration state and runs power flows: an edge.
        assert not module.startswith("v2g.feeder"), f"{path.name} imports {module}"


@pytest.mark.parametrize("package", ["pki", "gridmodel"])
def test_standalone_packages_never_import_v2g(package):
    for path in python_files(package):
        assert not any(m.split(".")[0] == "v2g" for m in imported_modules(path)), path


def test_no_module_is_called_manager_handler_utils_common_or_helpers():
    banned = {"manager", "handler", "utils", "common", "helpers"}
    product = python_files("v2g", "pki", "gridmodel")
    assert not [p for p in product if p.stem in banned]


#: The EXI codec: no event loop, sockets or threads anywhere; its core (all but the
#: iso15118 seam and the CLI module) is pure computation on bytes.
EXI_EDGE = {"v2g/exi/codec.py", "v2g/exi/commands.py"}


@pytest.mark.parametrize("path", python_files("v2g/exi"), ids=lambda p: str(p.relative_to(ROOT)))
def test_exi_codec_has_no_event_loop_or_io(path):
    edge = str(path.relative_to(ROOT)) in EXI_EDGE
    for module in imported_modules(path):
        top = module.split(".")[0]
        assert top not in {"asyncio", "socket", "ssl", "threading", "subprocess", "py4j"}
        if not edge:
            assert top not in IO_LIBRARIES, f"{path.name} imports {module}"
            assert not module.startswith(("v2g.secc", "v2g.cli")), f"{path.name} imports {module}"
