"""EXI bodies to and from JSON-shaped Python values, walking a ``GrammarTable``.

A message is a dict with one key, the root element's local name, as the iso15118
package's Java codec shapes it: complex elements are dicts in schema order (attributes
first, simple content under ``"value"``), repeatable particles are lists, hexBinary is
upper-case hex, base64Binary is base64 text, integers and booleans are JSON numbers
and booleans, enumerations their strings.

Speed: both directions walk the grammar with an explicit stack in one function, keep
the bit stream in one Python integer in local variables, and read or write the event
code, CH code, value and EE code of a simple-typed element as one field where the
value has a fixed width.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from v2g.exi.errors import ExiDecodeError, ExiEncodeError
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
    State,
    ValueCodec,
)

#: EXI 5: distinguishing bits "10", no options, final version 1 ("0 0000").
HEADER: Final = 0x80
HEADER_BITS: Final = 8
#: EXI 7.3.3: with a value partition capacity of 0 every string is a table miss,
#: sent as its length plus 2 (0 and 1 would be local and global hits).
STRING_MISS: Final = 2
#: A simple-typed element's first state has 7 second-level productions, EE first
#: (EXI 8.5.4.4.1): an element with empty text ends with first-level code 1 then 000.
SIMPLE_SECOND_WIDTH: Final = 3
#: Bits kept in the working integer before consumed (decoding) or finished (encoding)
#: bits are moved out of it.
WINDOW_BITS: Final = 2048
#: The longest unsigned integer accepted, in octets: 70 bits cover xs:unsignedLong.
MAX_UNSIGNED_OCTETS: Final = 10
#: Bounds the nesting of elements (deepest real message: about 10).
MAX_DEPTH: Final = 64
_TEXT_KINDS: Final = (STRING, HEX, BASE64)


# -- decoding ------------------------------------------------------------------------


# One long function on purpose: the stream position and grammar state stay in local
# variables for the whole walk, which halves the time per message.
def decode_document(  # noqa: PLR0915
    table: GrammarTable, data: bytes, fragment: bool = False
) -> dict[str, Any]:
    """The message encoded in ``data`` (a complete EXI stream with its header); with
    ``fragment``, an EXI fragment (EXI 8.5.2) holding one element."""
    limit = len(data) * 8
    big = int.from_bytes(data, "big")
    if limit < HEADER_BITS or big >> (limit - HEADER_BITS) != HEADER:
        raise ExiDecodeError("not an EXI 1.0 stream without options (header is not 0x80)")
    entries = table.fragment_list if fragment else table.document
    entry_width = table.fragment_width if fragment else table.document_width
    pos = HEADER_BITS + entry_width
    if pos > limit:
        raise ExiDecodeError("stream ends before its first element")
    code = (big >> (limit - pos)) & ((1 << entry_width) - 1)
    if code >= len(entries):
        raise ExiDecodeError("stream starts with an element outside the schema")
    root_name, root_index = entries[code]
    if root_index < 0:
        if root_name not in (table.relaxed_roots or {}):
            raise ExiDecodeError(f"unsupported fragment root {root_name!r}")
        return {root_name: _decode_relaxed_fragment(table, big, limit, pos)}
    elements = table.elements
    states = table.states
    grammar = elements[root_index]
    if grammar.start < 0:
        raise ExiDecodeError("a message root must be a complex element")
    lists = grammar.lists
    result: dict[str, Any] = {}
    state = states[grammar.start]
    stack: list[tuple[dict[str, Any], frozenset[str], State, str]] = []
    base = 0
    while True:
        if pos - base > WINDOW_BITS:
            # Drop the bits already read: a shift costs the length of its result, so
            # without this a long stream would cost time quadratic in its length.
            big &= (1 << (limit - pos)) - 1
            base = pos
        width = state.width
        end = pos + width
        if end > limit:
            raise ExiDecodeError(f"stream ends inside an event code at bit {pos}")
        code = (big >> (limit - end)) & ((1 << width) - 1)
        pos = end
        productions = state.productions
        if code >= len(productions):
            pos = _empty_content(state, result, big, limit, pos)
            kind = END_ELEMENT
        else:
            kind, name, target, following, codec = productions[code]
        if kind == START_ELEMENT:
            if codec is None:  # complex child: descend
                if len(stack) >= MAX_DEPTH:
                    raise ExiDecodeError("elements nested too deep")
                stack.append((result, lists, states[following], name))
                grammar = elements[target]
                lists = grammar.lists
                result = {}
                state = states[grammar.start]
                continue
            # Simple child: CH, value, EE, each the only first-level event of its state.
            if codec.kind == SIGNED and pos + 11 <= limit:
                # Common case inline: CH (0), sign, one octet below 0x80, EE (0): 11 bits
                # (EXI 7.1.5); anything else takes the general path below.
                chunk = (big >> (limit - pos - 11)) & 0x7FF
                if not chunk & 0x501:
                    magnitude = (chunk >> 1) & 0x7F
                    number = -magnitude - 1 if chunk & 0x200 else magnitude
                    if number < codec.minimum or (
                        codec.maximum is not None and number > codec.maximum
                    ):
                        raise ExiDecodeError(f"integer {number} outside its type's range")
                    pos += 11
                    if name in lists:
                        result.setdefault(name, []).append(number)
                    else:
                        result[name] = number
                    state = states[following]
                    continue
            if codec.fixed:  # all three in one read
                size = codec.width + 2
                end = pos + size
                if end > limit:
                    raise ExiDecodeError("stream ends inside an element")
                chunk = (big >> (limit - end)) & ((1 << size) - 1)
                if chunk >> (size - 1) or chunk & 1:
                    raise ExiDecodeError("unsupported second-level event around a value")
                raw = chunk >> 1
                pos = end
                if codec.decoded:
                    if raw >= len(codec.decoded):
                        raise ExiDecodeError(f"enumeration index {raw} out of range")
                    value = codec.decoded[raw]
                else:
                    value = raw + codec.minimum
                    if codec.maximum is not None and value > codec.maximum:
                        raise ExiDecodeError(f"integer {value} above its bound")
                if name in lists:
                    result.setdefault(name, []).append(value)
                else:
                    result[name] = value
                state = states[following]
                continue
            if pos >= limit:
                raise ExiDecodeError("stream ends inside an element")
            if (big >> (limit - pos - 1)) & 1:
                value, pos = _empty_text(codec, big, limit, pos + 1)
            else:
                value, pos = _value(codec, big, limit, pos + 1)
                if pos >= limit:
                    raise ExiDecodeError("stream ends inside an element")
                if (big >> (limit - pos - 1)) & 1:
                    raise ExiDecodeError("unsupported second-level event after a value")
                pos += 1
            if name in lists:
                result.setdefault(name, []).append(value)
            else:
                result[name] = value
            state = states[following]
        elif kind == END_ELEMENT:
            if not stack:
                if fragment:  # FragmentContent: ED is the code after SE(F0..Fn-1), SE(*)
                    end = pos + entry_width
                    if end > limit:
                        raise ExiDecodeError("stream ends before the end of the fragment")
                    if (big >> (limit - end)) & ((1 << entry_width) - 1) != len(entries) + 1:
                        raise ExiDecodeError("a fragment holds exactly one element here")
                return {root_name: result}
            parent, lists, state, name = stack.pop()
            if name in lists:
                parent.setdefault(name, []).append(result)
            else:
                parent[name] = result
            result = parent
        elif kind in (ATTRIBUTE, CHARACTERS):
            assert codec is not None
            result[name], pos = _value(codec, big, limit, pos)
            state = states[following]
        else:
            raise ExiDecodeError(f"unsupported event {name!r} (wildcard or mixed content)")


def _empty_content(state: State, result: dict[str, Any], big: int, limit: int, pos: int) -> int:
    """A second-level event: only EE where text was expected (empty text) is valid."""
    end = pos + state.second_width
    if end > limit:
        raise ExiDecodeError("stream ends inside an event code")
    if (big >> (limit - end)) & ((1 << state.second_width) - 1):
        raise ExiDecodeError("unsupported second-level event (schema deviation)")
    character = state.codes.get("value")
    if character is None:
        raise ExiDecodeError("unsupported second-level event (schema deviation)")
    codec = state.productions[character][4]
    assert codec is not None
    if codec.kind not in _TEXT_KINDS:
        raise ExiDecodeError("empty text where the schema requires a value")
    result["value"] = ""
    return end


def _empty_text(codec: ValueCodec, big: int, limit: int, pos: int) -> tuple[str, int]:
    end = pos + SIMPLE_SECOND_WIDTH
    if end > limit:
        raise ExiDecodeError("stream ends inside an event code")
    if (big >> (limit - end)) & ((1 << SIMPLE_SECOND_WIDTH) - 1):
        raise ExiDecodeError("unsupported second-level event in a simple element")
    if codec.kind not in _TEXT_KINDS:
        raise ExiDecodeError("empty text where the schema requires a value")
    return "", end


def _value(codec: ValueCodec, big: int, limit: int, pos: int) -> tuple[Any, int]:
    """One value (EXI 7.1) starting at bit ``pos``; returns it and the next position."""
    kind = codec.kind
    if kind in (NBIT, ENUM, BOOLEAN):
        width = 1 if kind == BOOLEAN else codec.width
        end = pos + width
        if end > limit:
            raise ExiDecodeError("stream ends inside a value")
        raw = (big >> (limit - end)) & ((1 << width) - 1)
        if kind == NBIT:
            number = raw + codec.minimum
            if codec.maximum is not None and number > codec.maximum:
                raise ExiDecodeError(f"integer {number} above its bound {codec.maximum}")
            return number, end
        if kind == BOOLEAN:
            return raw == 1, end
        if raw >= len(codec.enumeration):
            raise ExiDecodeError(f"enumeration index {raw} out of range")
        return codec.enumeration[raw], end
    if kind == STRING:
        length, pos = _unsigned(big, limit, pos)
        if length < STRING_MISS:
            raise ExiDecodeError("string table hit, but the value table is disabled")
        return _characters(length - STRING_MISS, big, limit, pos)
    if kind == UNSIGNED:  # EXI 7.1.5: the value itself, not an offset from the bound
        number, pos = _unsigned(big, limit, pos)
        return _bounded(codec, number), pos
    if kind == SIGNED:
        if pos >= limit:
            raise ExiDecodeError("stream ends inside a value")
        negative = (big >> (limit - pos - 1)) & 1
        magnitude, pos = _unsigned(big, limit, pos + 1)
        return _bounded(codec, -magnitude - 1 if negative else magnitude), pos
    if kind in (HEX, BASE64):
        length, pos = _unsigned(big, limit, pos)
        end = pos + 8 * length
        if end > limit:
            raise ExiDecodeError(f"stream ends inside a {length}-octet value")
        raw_bytes = ((big >> (limit - end)) & ((1 << (8 * length)) - 1)).to_bytes(length, "big")
        if kind == HEX:
            return raw_bytes.hex().upper(), end
        return base64.b64encode(raw_bytes).decode("ascii"), end
    raise ExiDecodeError(f"unsupported value kind {kind}")


def _unsigned(big: int, limit: int, pos: int) -> tuple[int, int]:
    """EXI 7.1.6: seven bits per octet, least significant group first."""
    value = 0
    shift = 0
    for _ in range(MAX_UNSIGNED_OCTETS):
        end = pos + 8
        if end > limit:
            raise ExiDecodeError("stream ends inside an unsigned integer")
        octet = (big >> (limit - end)) & 0xFF
        pos = end
        value |= (octet & 0x7F) << shift
        if octet < 0x80:
            return value, pos
        shift += 7
    raise ExiDecodeError("unsigned integer longer than 10 octets")


def _characters(length: int, big: int, limit: int, pos: int) -> tuple[str, int]:
    end = pos + 8 * length
    if end > limit:
        raise ExiDecodeError(f"stream ends inside a {length}-character string")
    raw = ((big >> (limit - end)) & ((1 << (8 * length)) - 1)).to_bytes(length, "big")
    if raw.isascii():  # every code point below 128 is exactly one octet
        return raw.decode("ascii"), end
    characters = []
    for _ in range(length):
        point, pos = _unsigned(big, limit, pos)
        if point > 0x10FFFF:
            raise ExiDecodeError(f"code point {point:#x} outside Unicode")
        characters.append(chr(point))
    return "".join(characters), pos


def _bounded(codec: ValueCodec, number: int) -> int:
    if number < codec.minimum or (codec.maximum is not None and number > codec.maximum):
        raise ExiDecodeError(f"integer {number} outside its type's range")
    return number


# -- encoding ------------------------------------------------------------------------


def encode_document(table: GrammarTable, message: dict[str, Any], fragment: bool = False) -> bytes:
    """The EXI stream (header included) of a one-key message dict; with ``fragment``,
    an EXI fragment (EXI 8.5.2) holding that one element, as signatures need."""
    if not isinstance(message, dict) or len(message) != 1:
        raise ExiEncodeError("a message is an object with exactly one key, its root element")
    ((root_name, body),) = message.items()
    root = (table.fragments if fragment else table.roots).get(root_name)
    if root is None or (root[1] < 0 and root_name not in (table.relaxed_roots or {})):
        raise ExiEncodeError(f"{root_name!r} is not a root element of {table.namespace}")
    if root[1] < 0:
        return _encode_relaxed_fragment(table, root[0], root_name, body)
    grammar = table.elements[root[1]]
    if grammar.start < 0:
        raise ExiEncodeError(f"{root_name!r} is not a message")
    # The keys from the root to the element being encoded; error messages only.
    trail = [root_name]
    try:
        return _encode_body(table, root[0], grammar, body, fragment, trail)
    except ExiEncodeError as error:
        raise ExiEncodeError(f"{'.'.join(trail)}: {error}") from None


# One long function on purpose, as decode_document.
def _encode_body(  # noqa: PLR0915
    table: GrammarTable,
    root_code: int,
    grammar: ElementGrammar,
    body: Any,
    fragment: bool,
    trail: list[str],
) -> bytes:
    elements = table.elements
    states = table.states
    entry_width = table.fragment_width if fragment else table.document_width
    # EXI 8.5.4.1.1: after the fragment's element, ED follows SE(F0..Fn-1) and SE(*).
    end_code = len(table.fragment_list) + 1 if fragment else 0
    acc = (HEADER << entry_width) | root_code
    bits = HEADER_BITS + entry_width
    out = bytearray()
    items = _items(grammar, body)
    index = 0
    state = states[grammar.start]
    stack: list[tuple[list[tuple[str, Any]], int, State]] = []
    while True:
        if bits > WINDOW_BITS:
            # Move whole bytes out: a shift costs the accumulator's length, so without
            # this a long message would cost time quadratic in its length.
            spare = bits & 7
            out += (acc >> spare).to_bytes(bits >> 3, "big")
            acc &= (1 << spare) - 1
            bits = spare
        if index < len(items):
            key, value = items[index]
            index += 1
            code = state.codes.get(key)
            if code is None:
                raise ExiEncodeError(f"{key!r} is not allowed here")
            kind, _name, target, following, codec = state.productions[code]
            width = state.width
            if kind == START_ELEMENT and codec is None:  # complex child: descend
                acc = (acc << width) | code
                bits += width
                if len(stack) >= MAX_DEPTH:
                    raise ExiEncodeError("elements nested too deep")
                stack.append((items, index, states[following]))
                trail.append(key)
                grammar = elements[target]
                items = _items(grammar, value)
                index = 0
                state = states[grammar.start]
                continue
            assert codec is not None
            if kind == START_ELEMENT:
                if codec.fixed:
                    raw = _fixed(codec, value, key)
                    # Event code, CH (0), the value, EE (0) in one field.
                    acc = (((acc << width) | code) << (codec.width + 2)) | (raw << 1)
                    bits += width + codec.width + 2
                elif (
                    codec.kind == SIGNED
                    and type(value) is int
                    and -128 <= value < 128
                    and codec.minimum <= value
                    and (codec.maximum is None or value <= codec.maximum)
                ):
                    # Common case inline: sign bit and one octet (EXI 7.1.5), with the
                    # event code, CH and EE around them in one field (11 bits + code).
                    raw = (0x100 | (-value - 1)) if value < 0 else value
                    acc = (((acc << width) | code) << 11) | (raw << 1)
                    bits += width + 11
                elif value == "" and codec.kind in _TEXT_KINDS:
                    # No CH event for empty text: second-level EE (code 1, then 000).
                    escape = ((code << 1) | 1) << SIMPLE_SECOND_WIDTH
                    acc = (acc << (width + 1 + SIMPLE_SECOND_WIDTH)) | escape
                    bits += width + 1 + SIMPLE_SECOND_WIDTH
                else:
                    packed, size = _pack(codec, value, key)
                    # Event code, CH (0), the value, EE (0) in one field.
                    acc = ((((acc << width) | code) << 1 << size) | packed) << 1
                    bits += width + size + 2
            elif kind == CHARACTERS and value == "" and codec.kind in _TEXT_KINDS:
                # No CH event for empty text: the element ends with second-level EE
                # ("value" is the last key of a simple-content element).
                escape = len(state.productions)
                acc = (acc << (width + state.second_width)) | (escape << state.second_width)
                bits += width + state.second_width
                if not stack:
                    return _finish(out, acc, bits, end_code, entry_width if fragment else 0)
                items, index, state = stack.pop()
                trail.pop()
                continue
            else:
                packed, size = _pack(codec, value, key)
                acc = (((acc << width) | code) << size) | packed
                bits += width + size
            state = states[following]
            continue
        code = state.codes.get("")
        if code is None:
            expected = ", ".join(p[1] for p in state.productions if p[0] == START_ELEMENT)
            raise ExiEncodeError(f"incomplete, expected one of: {expected}")
        acc = (acc << state.width) | code
        bits += state.width
        if not stack:
            return _finish(out, acc, bits, end_code, entry_width if fragment else 0)
        items, index, state = stack.pop()
        trail.pop()


def _finish(out: bytearray, acc: int, bits: int, end_code: int, end_width: int) -> bytes:
    acc = (acc << end_width) | end_code
    bits += end_width
    padding = -bits & 7
    return bytes(out) + (acc << padding).to_bytes((bits + padding) >> 3, "big")


#: Distinct key sets remembered per element grammar (a bound against odd input).
MAX_KEY_ORDERS: Final = 64


def _items(grammar: ElementGrammar, value: Any) -> list[tuple[str, Any]]:
    """The (key, value) pairs of one element in schema order, arrays expanded."""
    if not isinstance(value, dict):
        raise ExiEncodeError(f"expected an object, got {type(value).__name__}")
    given = tuple(value)
    keys = grammar.key_orders.get(given)
    if keys is None:
        order = grammar.order
        try:
            keys = tuple(sorted(given, key=order.__getitem__))
        except KeyError:
            unknown = sorted(set(given) - set(order))
            raise ExiEncodeError(f"unknown field(s) {', '.join(unknown)}") from None
        if len(grammar.key_orders) < MAX_KEY_ORDERS:
            grammar.key_orders[given] = keys
    lists = grammar.lists
    if lists.isdisjoint(keys):
        return [(key, value[key]) for key in keys]
    items: list[tuple[str, Any]] = []
    for key in keys:
        item = value[key]
        if key in lists and isinstance(item, list):
            items.extend((key, element) for element in item)
        else:
            items.append((key, item))
    return items


def _fixed(codec: ValueCodec, value: Any, key: str) -> int:
    """The raw bits of a fixed-width value (boolean, n-bit integer, enumeration)."""
    index = codec.index
    if index is not None:
        position = index.get(value) if isinstance(value, str) else None
        if position is None:
            raise ExiEncodeError(f"{key}: {value!r} is not one of the enumerated values")
        return position
    if codec.kind == BOOLEAN:
        if not isinstance(value, bool):
            raise ExiEncodeError(f"{key}: expected true or false")
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExiEncodeError(f"{key}: expected an integer")
    if value < codec.minimum or (codec.maximum is not None and value > codec.maximum):
        raise ExiEncodeError(f"{key}: {value} outside [{codec.minimum}, {codec.maximum}]")
    return value - codec.minimum


def _pack(codec: ValueCodec, value: Any, key: str) -> tuple[int, int]:
    """A value as (bits, width) to append to the stream (EXI 7.1)."""
    kind = codec.kind
    if kind == NBIT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExiEncodeError(f"{key}: expected an integer")
        if value < codec.minimum or (codec.maximum is not None and value > codec.maximum):
            raise ExiEncodeError(f"{key}: {value} outside [{codec.minimum}, {codec.maximum}]")
        return value - codec.minimum, codec.width
    if kind == STRING:
        if not isinstance(value, str):
            raise ExiEncodeError(f"{key}: expected a string")
        length, length_width = _unsigned_field(len(value) + STRING_MISS)
        if value.isascii():  # every code point below 128 is exactly one octet
            size = 8 * len(value)
            return (length << size) | int.from_bytes(value.encode("ascii"), "big"), (
                length_width + size
            )
        packed, width = length, length_width
        for character in value:
            point, point_width = _unsigned_field(ord(character))
            packed = (packed << point_width) | point
            width += point_width
        return packed, width
    if kind == BOOLEAN:
        if not isinstance(value, bool):
            raise ExiEncodeError(f"{key}: expected true or false")
        return int(value), 1
    if kind == ENUM:
        assert codec.index is not None
        position = codec.index.get(value) if isinstance(value, str) else None
        if position is None:
            raise ExiEncodeError(f"{key}: {value!r} is not one of the enumerated values")
        return position, codec.width
    if kind in (HEX, BASE64):
        data = _binary(kind, value, key)
        length, length_width = _unsigned_field(len(data))
        size = 8 * len(data)
        return (length << size) | int.from_bytes(data, "big"), length_width + size
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExiEncodeError(f"{key}: expected an integer")
    if value < codec.minimum or (codec.maximum is not None and value > codec.maximum):
        raise ExiEncodeError(f"{key}: {value} outside [{codec.minimum}, {codec.maximum}]")
    if kind == UNSIGNED:
        return _unsigned_field(value)
    # EXI 7.1.5: a sign bit, then the magnitude (minus one if negative).
    magnitude, width = _unsigned_field(-value - 1 if value < 0 else value)
    return ((1 << width) | magnitude if value < 0 else magnitude), width + 1


def _unsigned_field(value: int) -> tuple[int, int]:
    """EXI 7.1.6: seven bits per octet, least significant group first."""
    if value < 0x80:
        return value, 8
    packed = 0
    octets = 0
    while value >= 0x80:
        packed = (packed << 8) | 0x80 | (value & 0x7F)
        value >>= 7
        octets += 1
    return (packed << 8) | value, (octets + 1) * 8


def _binary(kind: int, value: Any, path: str) -> bytes:
    if not isinstance(value, str):
        raise ExiEncodeError(f"{path}: expected a {'hex' if kind == HEX else 'base64'} string")
    try:
        if kind == HEX:
            return bytes.fromhex(value)
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error) as error:
        raise ExiEncodeError(f"{path}: {error}") from None


# -- the relaxed element fragment grammar (EXI 8.5.4.1.1) ----------------------------
#
# ElementFragment_0: AT(A_0..A_n-1) stay, AT(*), SE(F_0..F_m-1), SE(*), EE, CH untyped;
# after CH, ElementFragment_2: SE(F_0..F_m-1), SE(*), EE, CH untyped. A_i are all
# attribute qnames of the schema, F_j all element qnames; strict false adds one code
# for the second level. Only attributes and text are supported (the -2 eMAID case).


def _relaxed_widths(table: GrammarTable) -> tuple[int, int, int]:
    attributes = len(table.relaxed_attributes)
    elements = len(table.fragment_list)
    first = attributes + elements + 4  # ... AT(*), SE(*), EE, CH
    return (first).bit_length(), (elements + 3).bit_length(), attributes + elements + 2


def _encode_relaxed_fragment(table: GrammarTable, code: int, name: str, body: Any) -> bytes:
    assert table.relaxed_roots is not None
    attribute_index = table.relaxed_roots[name]
    if not isinstance(body, dict):
        raise ExiEncodeError(f"{name}: expected an object")
    unknown = set(body) - set(attribute_index) - {"value"}
    if unknown:
        raise ExiEncodeError(f"{name}: unknown field(s) {', '.join(sorted(unknown))}")
    first_width, text_width, end_code = _relaxed_widths(table)
    acc = (HEADER << table.fragment_width) | code
    bits = HEADER_BITS + table.fragment_width
    for key in sorted(set(body) - {"value"}, key=attribute_index.__getitem__):
        index = attribute_index[key]
        packed, size = _pack(table.relaxed_attributes[index][1], body[key], f"{name}.{key}")
        acc = (((acc << first_width) | index) << size) | packed
        bits += first_width + size
    elements = len(table.fragment_list)
    if "value" in body and body["value"] != "":
        text, size = _pack(_UNTYPED, body["value"], f"{name}.value")
        acc = (((acc << first_width) | (end_code + 1)) << size) | text
        acc = (acc << text_width) | (elements + 1)  # EE in ElementFragment_2
        bits += first_width + size + text_width
    else:
        acc = (acc << first_width) | end_code
        bits += first_width
    return _finish(bytearray(), acc, bits, elements + 1, table.fragment_width)


def _decode_relaxed_fragment(table: GrammarTable, big: int, limit: int, pos: int) -> Any:
    first_width, text_width, end_code = _relaxed_widths(table)
    elements = len(table.fragment_list)
    result: dict[str, Any] = {}
    while True:
        end = pos + first_width
        if end > limit:
            raise ExiDecodeError("stream ends inside an event code")
        code = (big >> (limit - end)) & ((1 << first_width) - 1)
        pos = end
        if code < len(table.relaxed_attributes):
            key, codec = table.relaxed_attributes[code]
            result[key], pos = _value(codec, big, limit, pos)
            continue
        if code == end_code + 1:
            result["value"], pos = _value(_UNTYPED, big, limit, pos)
            end = pos + text_width
            if end > limit or (big >> (limit - end)) & ((1 << text_width) - 1) != elements + 1:
                raise ExiDecodeError("unsupported event after fragment text")
            pos = end
        elif code != end_code:
            raise ExiDecodeError("unsupported event in a relaxed element fragment")
        end = pos + table.fragment_width
        if end > limit:
            raise ExiDecodeError("stream ends before the end of the fragment")
        if (big >> (limit - end)) & ((1 << table.fragment_width) - 1) != elements + 1:
            raise ExiDecodeError("a fragment holds exactly one element here")
        return result


_UNTYPED: Final = ValueCodec(STRING)
