"""Grid physics for dispatch: feeder limits, verdicts, fast linear checks and exact AC
power flows (pandapower). Standalone: never imports ``v2g``. Not implemented yet.
"""
