"""OCPP-J 2.0.1 and 2.1: the SessionLink to chargers on their own machines.

``frames`` (RPC frames), ``schemas`` (the official JSON schemas), ``wire``
(payloads <-> domain types), ``station`` (what the CSMS holds per station) and
``profiles`` (when a setpoint becomes a charging profile) are pure; ``csms`` is the
WebSocket edge of ``v2g serve``.
"""
