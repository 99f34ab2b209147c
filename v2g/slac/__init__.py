"""ISO 15118-3 SLAC, EVSE side: pure frames and state machine, a raw-socket edge.

See README.md in this folder for the message sequence and the timers.
"""
