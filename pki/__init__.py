"""ISO 15118 PKI: certificate roles, chain building and verification, TLS contexts.

Standalone: never imports ``v2g``. Built on ``cryptography`` (pinned at 44.0.0 by
iso15118). Not implemented yet; until it is, the SECC offers External
Identification Means only.
"""
