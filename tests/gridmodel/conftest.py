"""Reference networks are loaded once per test session (pandapower is slow to build them)."""

import pytest

from gridmodel import load_network


@pytest.fixture(scope="session")
def cigre_lv():
    return load_network("cigre-lv")


@pytest.fixture(scope="session")
def kerber():
    return load_network("kerber-dorf")


@pytest.fixture(scope="session")
def oberrhein():
    return load_network("mv-oberrhein")
