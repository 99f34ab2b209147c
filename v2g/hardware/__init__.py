"""The charger's hardware seams (control pilot, power module, contactor, meter) and
their implementations: simulated (the default) and Modbus TCP for DC modules. See
``v2g/hardware/README.md``."""
