"""A native EXI codec for the ISO 15118 schemas (see README.md in this folder)."""

from v2g.exi.codec import NativeExiCodec, decode, encode
from v2g.exi.errors import ExiDecodeError, ExiEncodeError
from v2g.exi.schemas import NAMESPACES

__all__ = ["NAMESPACES", "ExiDecodeError", "ExiEncodeError", "NativeExiCodec", "decode", "encode"]
