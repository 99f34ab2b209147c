"""The ISO 15118 conformance sweep: minimal and maximal schema instances of every
request and response, fed through the SECC's decode-and-validate path (issue 20)."""
