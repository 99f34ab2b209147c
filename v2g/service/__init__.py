"""The aggregator service (``v2g serve``): site configuration, assembly of store,
aggregator, DR intake and operator API, and the ``serve`` and ``token`` commands."""
