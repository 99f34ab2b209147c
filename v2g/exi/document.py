"""EXI bodies to and from JSON-shaped Python values, walking a ``GrammarTable``.

A message is a dict with one key, the root element's local name, as the iso15118
package's Java codec shapes it: complex elements are dicts in schema order (attributes
first, simple content under ``"value"``), repeatable particles are lists, hexBinary is
upper-case hex, base64Binary is base64 text, integers and booleans are JSON numbers
and booleans, enumerations their strings.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from v2g.exi.bits import BitReader, BitWriter, ExiDecodeError, ExiEncodeError
from v2g.exi.grammar import (
    ATTRIBUTE,
    BASE64,
    BOOLEAN,
    CHARACTERS,
    END_ELEMENT,
    ENUM,
    HEX,
    NBIT,
    SIGNED,
    START_ELEMENT,
    STRING,
    UNSIGNED,
    ElementGrammar,
    GrammarTable,
    ValueCodec,
)

#: EXI 5: distinguishing bits "10", no options, final version 1 ("0 0000").
HEADER: Final = 0x80
HEADER_BITS: Final = 8
#: EXI 7.3.3: with a value partition capacity of 0 every string is a table miss,
#: sent as its length plus 2 (0 and 1 would be local and global hits).
STRING_MISS: Final = 2
#: A simple-typed element's first state has 7 second-level productions, EE first.
SIMPLE_SECOND_WIDTH: Final = 3
#: Bounds the nesting of the schemas' own content (deepest real message: ~10).
MAX_DEPTH: Final = 64


# -- decoding ------------------------------------------------------------------------


def decode_document(table: GrammarTable, data: bytes) -> dict[str, Any]:
    """The message encoded in ``data`` (a complete EXI stream with its header)."""
    reader = BitReader(data)
    if reader.read(HEADER_BITS) != HEADER:
        raise ExiDecodeError("not an EXI 1.0 stream without options (header is not 0x80)")
    code = reader.read(table.document_width)
    if code >= len(table.document):
        raise ExiDecodeError("document starts with an element outside the schema")
    name, grammar = table.document[code]
    return {name: _decode_element(table, reader, grammar, 0)}


def _decode_element(table: GrammarTable, reader: BitReader, index: int, depth: int) -> Any:
    grammar = table.elements[index]
    if grammar.start < 0:
        # Simple type: CH then EE, each the only first-level event of its state.
        if reader.read(1):
            return _empty_value(table.values[grammar.value], reader.read(SIMPLE_SECOND_WIDTH))
        value = _decode_value(table.values[grammar.value], reader)
        if reader.read(1):
            raise ExiDecodeError("unsupported second-level event after a value")
        return value
    if depth > MAX_DEPTH:
        raise ExiDecodeError("elements nested too deep")
    states = table.states
    lists = grammar.lists
    result: dict[str, Any] = {}
    state = states[grammar.start]
    while True:
        code = reader.read(state.width)
        productions = state.productions
        if code >= len(productions):
            second = reader.read(state.second_width)
            character = state.codes.get("value")
            if character is None:
                raise ExiDecodeError("unsupported second-level event (schema deviation)")
            # EE where the schema expects text: the text is empty.
            result["value"] = _empty_value(table.values[productions[character][2]], second)
            return result
        kind, name, target, following = productions[code]
        if kind == START_ELEMENT:
            value = _decode_element(table, reader, target, depth + 1)
            if name in lists:
                result.setdefault(name, []).append(value)
            else:
                result[name] = value
        elif kind == END_ELEMENT:
            return result
        elif kind in (ATTRIBUTE, CHARACTERS):
            result[name] = _decode_value(table.values[target], reader)
        else:
            raise ExiDecodeError(f"unsupported event {name!r} (wildcard or mixed content)")
        state = states[following]


def _empty_value(codec: ValueCodec, second_level_code: int) -> str:
    """The value of an element whose text is empty (a second-level EE instead of CH)."""
    if second_level_code != 0:
        raise ExiDecodeError("unsupported second-level event (schema deviation)")
    if codec.kind not in (STRING, HEX, BASE64):
        raise ExiDecodeError("empty text where the schema requires a value")
    return ""


def _decode_value(codec: ValueCodec, reader: BitReader) -> Any:
    kind = codec.kind
    if kind == NBIT:
        value = reader.read(codec.width) + codec.minimum
        if codec.maximum is not None and value > codec.maximum:
            raise ExiDecodeError(f"integer {value} above its bound {codec.maximum}")
        return value
    if kind == STRING:
        return _decode_string(reader)
    if kind == BOOLEAN:
        return reader.read(1) == 1
    if kind == ENUM:
        index = reader.read(codec.width)
        if index >= len(codec.enumeration):
            raise ExiDecodeError(f"enumeration index {index} out of range")
        return codec.enumeration[index]
    if kind == UNSIGNED:  # EXI 7.1.5: the value itself, not an offset from the bound
        return _bounded(codec, reader.read_unsigned())
    if kind == SIGNED:
        negative = reader.read(1)
        magnitude = reader.read_unsigned()
        return _bounded(codec, -magnitude - 1 if negative else magnitude)
    if kind == HEX:
        return reader.read_octets(reader.read_unsigned()).hex().upper()
    if kind == BASE64:
        return base64.b64encode(reader.read_octets(reader.read_unsigned())).decode("ascii")
    raise ExiDecodeError(f"unsupported value kind {kind}")


def _bounded(codec: ValueCodec, number: int) -> int:
    if number < codec.minimum or (codec.maximum is not None and number > codec.maximum):
        raise ExiDecodeError(f"integer {number} outside its type's range")
    return number


def _decode_string(reader: BitReader) -> str:
    length = reader.read_unsigned()
    if length < STRING_MISS:
        raise ExiDecodeError("string table hit, but the value table is disabled")
    length -= STRING_MISS
    if length * 8 > reader.remaining():
        raise ExiDecodeError(f"stream ends inside a {length}-character string")
    start = reader.position
    raw = reader.read_octets(length)
    if raw.isascii():  # every code point below 128 is exactly one octet
        return raw.decode("ascii")
    reader.position = start
    characters = []
    for _ in range(length):
        point = reader.read_unsigned()
        if point > 0x10FFFF:
            raise ExiDecodeError(f"code point {point:#x} outside Unicode")
        characters.append(chr(point))
    return "".join(characters)


# -- encoding ------------------------------------------------------------------------


def encode_document(table: GrammarTable, message: dict[str, Any]) -> bytes:
    """The EXI stream (header included) of a one-key message dict."""
    if not isinstance(message, dict) or len(message) != 1:
        raise ExiEncodeError("a message is an object with exactly one key, its root element")
    ((name, body),) = message.items()
    root = table.roots.get(name)
    if root is None:
        raise ExiEncodeError(f"{name!r} is not a root element of {table.namespace}")
    writer = BitWriter()
    writer.write(HEADER, HEADER_BITS)
    writer.write(root[0], table.document_width)
    _encode_element(table, writer, root[1], body, name)
    return writer.getvalue()


def _encode_element(
    table: GrammarTable, writer: BitWriter, index: int, value: Any, path: str
) -> None:
    grammar = table.elements[index]
    if grammar.start < 0:
        if value == "" and table.values[grammar.value].kind in (STRING, HEX, BASE64):
            # EXI 8.5.4.4.1: no CH event for empty text; EE is second-level code 0.
            writer.write(1, 1)
            writer.write(0, SIMPLE_SECOND_WIDTH)
            return
        writer.write(0, 1)  # CH
        _encode_value(table.values[grammar.value], writer, value, path)
        writer.write(0, 1)  # EE
        return
    if not isinstance(value, dict):
        raise ExiEncodeError(f"{path}: expected an object, got {type(value).__name__}")
    states = table.states
    state = states[grammar.start]
    for key in _ordered_keys(grammar, value, path):
        item = value[key]
        items = item if key in grammar.lists and isinstance(item, list) else (item,)
        for element in items:
            code = state.codes.get(key)
            if code is None:
                raise ExiEncodeError(f"{path}: {key!r} is not allowed here")
            kind, _name, target, following = state.productions[code]
            if (
                kind == CHARACTERS
                and element == ""
                and table.values[target].kind
                in (
                    STRING,
                    HEX,
                    BASE64,
                )
            ):
                # No CH event for empty text: the element ends, second-level EE.
                writer.write(len(state.productions), state.width)
                writer.write(0, state.second_width)
                return
            writer.write(code, state.width)
            if kind == START_ELEMENT:
                _encode_element(table, writer, target, element, f"{path}.{key}")
            else:
                _encode_value(table.values[target], writer, element, f"{path}.{key}")
            state = states[following]
    code = state.codes.get("")
    if code is None:
        expected = ", ".join(p[1] for p in state.productions if p[0] == START_ELEMENT)
        raise ExiEncodeError(f"{path}: incomplete, expected one of: {expected}")
    writer.write(code, state.width)


def _ordered_keys(grammar: ElementGrammar, value: dict[str, Any], path: str) -> list[str]:
    order = grammar.order
    try:
        return sorted(value, key=order.__getitem__)
    except KeyError:
        unknown = sorted(set(value) - set(order))
        raise ExiEncodeError(f"{path}: unknown field(s) {', '.join(unknown)}") from None


def _encode_value(codec: ValueCodec, writer: BitWriter, value: Any, path: str) -> None:
    kind = codec.kind
    if kind == STRING:
        if not isinstance(value, str):
            raise ExiEncodeError(f"{path}: expected a string")
        _encode_string(writer, value)
    elif kind == BOOLEAN:
        if not isinstance(value, bool):
            raise ExiEncodeError(f"{path}: expected true or false")
        writer.write(1 if value else 0, 1)
    elif kind == ENUM:
        assert codec.index is not None
        position = codec.index.get(value) if isinstance(value, str) else None
        if position is None:
            raise ExiEncodeError(f"{path}: {value!r} is not one of the enumerated values")
        writer.write(position, codec.width)
    elif kind in (HEX, BASE64):
        data = _binary(kind, value, path)
        writer.write_unsigned(len(data))
        writer.write_octets(data)
    else:
        number = _integer(codec, value, path)
        if kind == NBIT:
            writer.write(number - codec.minimum, codec.width)
        elif kind == UNSIGNED:
            writer.write_unsigned(number)
        elif number < 0:  # EXI 7.1.5: sign bit, then the magnitude minus one
            writer.write(1, 1)
            writer.write_unsigned(-number - 1)
        else:
            writer.write(0, 1)
            writer.write_unsigned(number)


def _integer(codec: ValueCodec, value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExiEncodeError(f"{path}: expected an integer")
    if value < codec.minimum or (codec.maximum is not None and value > codec.maximum):
        raise ExiEncodeError(f"{path}: {value} outside [{codec.minimum}, {codec.maximum}]")
    return value


def _binary(kind: int, value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise ExiEncodeError(f"{path}: expected a {'hex' if kind == HEX else 'base64'} string")
    try:
        if kind == HEX:
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as error:
        raise ExiEncodeError(f"{path}: {error}") from None


def _encode_string(writer: BitWriter, value: str) -> None:
    writer.write_unsigned(len(value) + STRING_MISS)
    if value.isascii():  # every code point below 128 is exactly one octet
        writer.write_octets(value.encode("ascii"))
        return
    for character in value:
        writer.write_unsigned(ord(character))
