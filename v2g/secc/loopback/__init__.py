"""One complete ISO 15118 session on this machine: the product's SECC against the
iso15118 package's own EVCC, each in a network namespace, joined by a veth pair.

SDP uses IPv6 link-local multicast, which Linux never delivers on ``lo``; a veth pair
between two namespaces behaves like the PLC link between a charger and a car.
"""

#: The protocols (and energy services) ``v2g loopback`` can run.
PROTOCOLS = (
    "din-dc",
    "iso2-ac",
    "iso2-dc",
    "iso20-ac",
    "iso20-dc",
    "iso20-ac-bpt",
    "iso20-dc-bpt",
)

#: The faults ``v2g loopback --fault`` injects after a few charge-loop messages.
FAULTS = ("ev-silent", "unplug", "module-fault", "isolation-fault")
#: Charge-loop requests answered before the fault.
FAULT_AFTER_LOOPS = 3

#: Request names of the charge loop in each protocol family.
CHARGE_LOOP_REQUESTS = frozenset(
    {"CurrentDemandReq", "ChargingStatusReq", "DC_ChargeLoopReq", "AC_ChargeLoopReq"}
)
#: PreCharge requests (DC: DIN, -2 and -20).
PRECHARGE_REQUESTS = frozenset({"PreChargeReq", "DC_PreChargeReq"})


def is_ac(protocol: str) -> bool:
    return "-ac" in protocol


def is_bpt(protocol: str) -> bool:
    return protocol.endswith("-bpt")
