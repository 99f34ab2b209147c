"""Hypothesis strategies for valid ISO 15118 messages, drawn from the compiled EXI
grammars themselves: every optional element present or absent, every choice branch,
array lengths up to their bounds, integers at their extremes, long strings."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import strategies as st

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
    GrammarTable,
    ValueCodec,
)
from v2g.exi.schemas import grammar_table

#: Limits that keep one example small enough for a unit test.
MAX_REPEATS = 4
MAX_STRING = 80
MAX_BINARY = 64

#: Code points the Java codec's XML layer can carry (XML 1.0 Char, no surrogates).
_XML_TEXT = st.characters(codec="utf-8", min_codepoint=0x20, exclude_characters="\ufffe\uffff")


def message_roots(namespace: str) -> list[str]:
    """The root elements that are whole messages of ``namespace``."""
    table = grammar_table(namespace)
    names = [name for name, _ in table.document if name in table.roots]
    if "V2G_Message" in names:
        return ["V2G_Message"]
    if namespace.endswith("xmldsig#"):
        return ["SignedInfo", "Signature"]
    if namespace.endswith("AppProtocol"):
        return ["supportedAppProtocolReq", "supportedAppProtocolRes"]
    return sorted(n for n in names if n.endswith(("Req", "Res")))


def _values(codec: ValueCodec, long_strings: bool) -> st.SearchStrategy[Any]:
    kind = codec.kind
    if kind == BOOLEAN:
        return st.booleans()
    if kind == ENUM:
        return st.sampled_from(codec.enumeration)
    if kind in (NBIT, UNSIGNED, SIGNED):
        low = max(codec.minimum, -(2**63))
        high = codec.maximum if codec.maximum is not None else 2**64 - 1
        extremes = st.sampled_from(sorted({low, high, max(low, min(high, 0))}))
        return st.one_of(extremes, st.integers(low, high))
    if kind == STRING:
        size = 400 if long_strings else MAX_STRING
        return st.text(_XML_TEXT, max_size=size)
    if kind == HEX:
        return st.binary(max_size=MAX_BINARY).map(lambda b: b.hex().upper())
    if kind == BASE64:
        return st.binary(max_size=MAX_BINARY).map(lambda b: base64.b64encode(b).decode())
    raise AssertionError(f"no strategy for value kind {kind}")


@st.composite
def _element(draw: st.DrawFn, table: GrammarTable, index: int, depth: int, long: bool) -> Any:
    grammar = table.elements[index]
    if grammar.start < 0:
        return draw(_values(table.values[grammar.value], long))
    result: dict[str, Any] = {}
    state = table.states[grammar.start]
    last_key: str | None = None
    repeats = 0
    while True:
        choices = []
        for production in state.productions:
            kind, name = production[0], production[1]
            if kind == END_ELEMENT:
                choices.append(production)
            elif kind in (START_ELEMENT, ATTRIBUTE, CHARACTERS):
                # Only walks a JSON object can express: keys in schema order, repeats
                # of one key next to each other, and bounded.
                if name == last_key:
                    if name in grammar.lists and repeats < MAX_REPEATS:
                        choices.append(production)
                elif name not in result and (
                    last_key is None or grammar.order[name] > grammar.order[last_key]
                ):
                    choices.append(production)
        if not choices:
            raise AssertionError(f"dead end in {grammar.name}")
        ending = [p for p in choices if p[0] == END_ELEMENT]
        if ending and (depth > 12 or draw(st.integers(0, 3)) == 0):
            return result
        production = draw(st.sampled_from(choices))
        kind, name, target, following, codec = production
        if kind == END_ELEMENT:
            return result
        if kind == START_ELEMENT:
            value = draw(_element(table, target, depth + 1, long))
        else:
            assert codec is not None
            value = draw(_values(codec, long))
        if name in grammar.lists:
            result.setdefault(name, []).append(value)
        else:
            result[name] = value
        repeats = repeats + 1 if name == last_key else 1
        last_key = name
        state = table.states[following]


@st.composite
def messages(draw: st.DrawFn, namespace: str, long_strings: bool = False) -> dict[str, Any]:
    """A valid message of ``namespace`` in the iso15118 JSON shape."""
    table = grammar_table(namespace)
    root = draw(st.sampled_from(message_roots(namespace)))
    return {root: draw(_element(table, table.roots[root][1], 0, long_strings))}
