"""How the SECC configures the iso15118 package (traps named after what they avoid)."""

from iso15118.shared.messages.enums import AuthEnum, Protocol

from tests.unit.secc_helpers import ac_bpt_evse, dc_bpt_evse
from v2g.secc.station import iso15118_config, supported_protocols


def test_only_eim_is_offered_without_a_pki():
    """Trap: iso15118's defaults offer Plug & Charge without TLS in -20; the EV picks
    it and the session crashes for lack of certificates."""
    config = iso15118_config(dc_bpt_evse(), "INFO")
    assert config.supported_auth_options == [AuthEnum.EIM]
    assert not config.allow_cert_install_service


def test_network_interface_is_set_explicitly():
    """Trap: the package's default interface is eth0; SDP must run on the EVSE's link."""
    assert iso15118_config(dc_bpt_evse(interface="veth-secc"), "INFO").iface == "veth-secc"


def test_protocol_offer_follows_the_evses_current_type():
    assert supported_protocols(dc_bpt_evse()) == [
        Protocol.ISO_15118_20_DC,
        Protocol.ISO_15118_2,
        Protocol.DIN_SPEC_70121,
    ]
    assert supported_protocols(ac_bpt_evse()) == [Protocol.ISO_15118_20_AC, Protocol.ISO_15118_2]
    assert supported_protocols(dc_bpt_evse(protocols=("din",))) == [Protocol.DIN_SPEC_70121]
