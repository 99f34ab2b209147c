"""An independent yardstick for the planner: generated scenarios from real data, a
whole-horizon reference optimum, simple baselines and an independent AC replay."""
