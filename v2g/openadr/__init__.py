"""DR intake channels: OpenADR 2.0b VEN, OpenADR 3 client, and their translation into
the domain's DR events (see README.md)."""
