"""Generated messages across the schemas' facets survive a round trip unchanged."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.exi_messages import messages
from tests.properties import examples
from v2g.exi import NAMESPACES, decode, encode


@pytest.mark.parametrize("namespace", NAMESPACES)
@settings(max_examples=examples(150), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_decode_of_encode_returns_the_message(namespace, data):
    message = data.draw(messages(namespace))
    assert decode(encode(message, namespace), namespace) == message


@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(message=messages("urn:iso:15118:2:2013:MsgDef", long_strings=True))
def test_long_strings_and_binaries_round_trip(message):
    namespace = "urn:iso:15118:2:2013:MsgDef"
    assert decode(encode(message, namespace), namespace) == message
