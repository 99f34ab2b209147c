"""A portfolio of feeders: shards (Ray actors, each holding one or more feeders' grid
models and aggregators) and a coordinator that splits the utility's DR targets
across them from the envelopes they publish (DECISIONS.md 98)."""
