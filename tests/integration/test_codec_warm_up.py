"""Trap: the Java codec loads each schema's grammar on first use (0.15-2 s measured),
inside the EV's first timeout. The SECC warms every namespace up at start-up."""

import logging
import shutil

import pytest

from v2g.secc.codec import WARM_UP_MESSAGES, make_codec, message_name, warm_up

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK")


def test_every_namespace_warms_up_with_the_java_codec(caplog):
    codec = make_codec("java")
    with caplog.at_level(logging.WARNING):
        spent = warm_up(codec)
    assert "warm-up" not in caplog.text
    assert set(spent) == set(WARM_UP_MESSAGES)
    for namespace, message in WARM_UP_MESSAGES.items():
        decoded = codec.decode(codec.encode(message, namespace), namespace)
        assert message_name(decoded)[0] == message_name(message)[0]
