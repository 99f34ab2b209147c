"""``v2g demo``: the main job on embedded defaults, in accelerated time."""
