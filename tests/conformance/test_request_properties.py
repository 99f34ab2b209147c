"""Property: whatever schema-valid request an EV sends, the SECC's decode-and-validate
path accepts it or yields an answer with a response code, never an exception that
ends the session unanswered (issue 20). Requests are drawn from the compiled grammars
(``tests.exi_messages``: optional parts, choices, arrays, extreme integers, text)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance.instances import Instance
from tests.conformance.sweep import UNANSWERED, judge, prepare
from tests.exi_messages import messages
from tests.properties import examples
from v2g.exi.schemas import DIN, ISO2, ISO20_AC, ISO20_COMMON, ISO20_DC


@pytest.fixture(scope="module")
def exi() -> Any:
    return prepare()


def _requests(namespace: str) -> st.SearchStrategy[dict[str, Any]]:
    def is_request(message: dict[str, Any]) -> bool:
        (root, body), *_ = message.items()
        if root == "V2G_Message":
            return next(iter(body.get("Body", {})), "").endswith("Req")
        return root.endswith("Req")

    return messages(namespace).filter(is_request)


@pytest.mark.parametrize("namespace", [DIN, ISO2, ISO20_COMMON, ISO20_AC, ISO20_DC])
@settings(max_examples=examples(60), deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_schema_valid_request_ends_the_session_unanswered(exi, namespace, data):
    document = data.draw(_requests(namespace))
    (root, body), *_ = document.items()
    name = next(iter(body["Body"])) if root == "V2G_Message" else root
    outcome = judge(exi, Instance(namespace, name, "drawn", 0, document))
    assert outcome.verdict != UNANSWERED, outcome.detail
