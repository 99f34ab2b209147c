"""The grammar compiler: XML Schema declarations to flat EXI grammar tables.

EXI 1.0 section 8.5.4 derives one grammar per element type from the schema. This
module builds it in two steps: a particle automaton with empty transitions (the
grammars of sections 8.5.4.1.4-8.5.4.1.8, concatenated and unioned), then the
closure of empty transitions and merging of identical events (section 8.5.4.2), which
gives a deterministic grammar. Event codes follow section 8.5.4.2.3 (attributes by
qname, then elements in schema order, wildcards, EE, character data). The ISO 15118
codecs use EXI with ``strict`` false (the EXIficient default), so every state also has
second-level productions (section 8.5.4.4.1): they are never emitted here, but they
add one value to each state's first-level event code and so change its width.

The result is a ``GrammarTable``: states and productions in tuples indexed by ints,
so the encoder and decoder walk plain tuples.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from v2g.exi.xsd import (
    UNBOUNDED,
    AttributeUse,
    ComplexType,
    ElementDeclaration,
    ElementParticle,
    GroupParticle,
    Particle,
    QName,
    Schema,
    SimpleType,
    WildcardParticle,
)

# Production kinds.
START_ELEMENT: Final = 0
ATTRIBUTE: Final = 1
END_ELEMENT: Final = 2
CHARACTERS: Final = 3
#: SE(*) and untyped character data: valid events this codec cannot represent in JSON.
UNSUPPORTED: Final = 4

# Value kinds (EXI 1.0 section 7.1).
BOOLEAN: Final = 0
UNSIGNED: Final = 1
SIGNED: Final = 2
NBIT: Final = 3
ENUM: Final = 4
STRING: Final = 5
HEX: Final = 6
BASE64: Final = 7

#: EXI 7.1.5: an integer with a bounded range of at most this size is an n-bit integer.
NBIT_RANGE_LIMIT: Final = 4096


@dataclass(frozen=True, slots=True)
class ValueCodec:
    """How one simple value is represented: kind, n-bit offset and width, enumeration."""

    kind: int
    minimum: int = 0
    maximum: int | None = None
    width: int = 0
    enumeration: tuple[str, ...] = ()
    index: Mapping[str, int] | None = None
    #: A fixed-width value (boolean, n-bit integer, enumeration): the encoder and
    #: decoder read or write it together with its element's CH and EE codes.
    fixed: bool = False
    #: Decoded value per raw value, for booleans and enumerations.
    decoded: tuple[object, ...] = ()


#: (kind, JSON name, target, next state, value codec): target is the element grammar
#: index for SE; the value codec is set for AT, CH and SE of a simple-typed element
#: (whose CH and EE the encoder and decoder handle inline).
Production = tuple[int, str, int, int, ValueCodec | None]


@dataclass(frozen=True, slots=True)
class State:
    """One grammar state: its first-level productions in event-code order."""

    width: int
    productions: tuple[Production, ...]
    #: JSON name (``""`` for EE) -> event code.
    codes: Mapping[str, int]
    #: Width of the second-level event code; EE is second-level code 0 wherever it is
    #: not a first-level production (section 8.5.4.4.1). An element with empty text
    #: (``""``) has no CH event at all, so it ends with that second-level EE.
    second_width: int = 0


@dataclass(frozen=True, slots=True)
class ElementGrammar:
    """The grammar of one element's content: a simple value or a start state."""

    name: str
    start: int
    value: int
    #: JSON key -> position in schema order (attributes first).
    order: Mapping[str, int]
    #: JSON keys whose value is an array (the particle may occur more than once).
    lists: frozenset[str]
    #: Cache filled by the encoder: the keys of an object as given -> in schema order.
    #: Messages of one type repeat the same few key sets; bounded by the encoder.
    key_orders: dict[tuple[str, ...], tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )


@dataclass(frozen=True, slots=True)
class GrammarTable:
    """Every grammar of one schema, plus its document grammar."""

    namespace: str
    states: tuple[State, ...]
    elements: tuple[ElementGrammar, ...]
    values: tuple[ValueCodec, ...]
    #: Global elements in EXI order (section 8.5.4.1.2: sorted by local name, then URI).
    document: tuple[tuple[str, int], ...]
    document_width: int
    #: Root JSON name -> (event code, element grammar index).
    roots: Mapping[str, tuple[int, int]]
    #: The fragment grammar (EXI 8.5.4.1.1, used for signed parts): every element
    #: declaration's qname once, sorted; JSON name -> (event code, element grammar).
    fragments: Mapping[str, tuple[int, int]]
    #: Fragment element qnames in code order (for decoding).
    fragment_list: tuple[tuple[str, int], ...]
    #: Width of a FragmentContent event code: SE(F0..Fn-1), SE(*), ED.
    fragment_width: int
    #: The relaxed element fragment grammar (EXI 8.5.4.1.1), for a fragment root whose
    #: qname is declared with several types: every attribute qname sorted, each with a
    #: value codec (typed when all its declarations agree, else a string).
    relaxed_attributes: tuple[tuple[str, ValueCodec], ...] = ()
    #: Fragment roots that need the relaxed grammar: JSON name -> attribute JSON name
    #: -> index in ``relaxed_attributes`` (the attributes of its complex declaration).
    relaxed_roots: Mapping[str, Mapping[str, int]] | None = None


def _width(count: int) -> int:
    """Bits of an n-bit unsigned integer with ``count`` possible values (EXI 7.1.9)."""
    return (count - 1).bit_length() if count > 1 else 0


def value_codec(simple: SimpleType) -> ValueCodec:
    """The EXI representation of a simple type (EXI 1.0 section 7.1)."""
    if simple.kind == "boolean":
        return ValueCodec(BOOLEAN, width=1, fixed=True, decoded=(False, True))
    if simple.kind == "enum":
        values = simple.enumeration
        return ValueCodec(
            ENUM,
            width=_width(len(values)),
            enumeration=values,
            index={v: i for i, v in enumerate(values)},
            fixed=True,
            decoded=values,
        )
    if simple.kind == "integer":
        low, high = simple.minimum, simple.maximum
        if low is not None and high is not None and high - low + 1 <= NBIT_RANGE_LIMIT:
            return ValueCodec(NBIT, low, high, _width(high - low + 1), fixed=True)
        if low is not None and low >= 0:
            return ValueCodec(UNSIGNED, low, high)
        return ValueCodec(SIGNED, low if low is not None else -(2**200), high)
    if simple.kind == "hex":
        return ValueCodec(HEX)
    if simple.kind == "base64":
        return ValueCodec(BASE64)
    return ValueCodec(STRING)


# -- the particle automaton ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    kind: int
    qname: QName
    #: Sort key within its class: schema position for SE, qname for AT.
    order: tuple[object, ...]
    declaration: QName | None = None
    attribute: AttributeUse | None = None
    simple: SimpleType | None = None


class _Automaton:
    """States with empty (epsilon) and event transitions."""

    def __init__(self) -> None:
        self.empty: list[list[int]] = []
        self.events: list[list[tuple[_Event, int]]] = []
        self.content: list[bool] = []

    def node(self, content: bool = True) -> int:
        self.empty.append([])
        self.events.append([])
        self.content.append(content)
        return len(self.empty) - 1


class _Builder:
    """Compiles the grammars of one schema."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.states: list[State] = []
        self.elements: list[ElementGrammar | None] = []
        self.values: list[ValueCodec] = []
        self._value_index: dict[SimpleType, int] = {}
        self._by_type: dict[int, int] = {}
        self._keep: list[object] = []
        self._positions: dict[int, int] = {}
        self._substitutes = self._substitution_groups()

    def _substitution_groups(self) -> dict[QName, list[QName]]:
        members: dict[QName, list[QName]] = {}
        for name in self.schema.global_elements:
            head = self.schema.elements[name].substitution_head
            while head is not None:  # members of members substitute for the head too
                members.setdefault(head, []).append(name)
                head = self.schema.elements[head].substitution_head
        return members

    def value(self, simple: SimpleType) -> int:
        index = self._value_index.get(simple)
        if index is None:
            index = len(self.values)
            self.values.append(value_codec(simple))
            self._value_index[simple] = index
        return index

    def element(self, declaration: ElementDeclaration) -> int:
        """The element grammar index for a declaration's type (built once per type)."""
        content_type = declaration.type
        key = id(content_type)
        if key in self._by_type:
            return self._by_type[key]
        index = len(self.elements)
        self._by_type[key] = index
        self._keep.append(content_type)
        self.elements.append(None)
        if isinstance(content_type, SimpleType):
            grammar = ElementGrammar(
                declaration.name[1], -1, self.value(content_type), {}, frozenset()
            )
        else:
            grammar = self._complex(content_type)
        self.elements[index] = grammar
        return index

    # -- element terms with substitution groups (EXI 8.5.4.1.6) -----------------------

    def _alternatives(self, particle: ElementParticle) -> list[QName]:
        if particle.local:
            return [particle.declaration]
        # EXIficient, and so the Java codec, keeps abstract heads and members in the
        # list (-2's abstract BodyElement takes a code); byte identity needs the same.
        names = [particle.declaration, *self._substitutes.get(particle.declaration, [])]
        if len(names) > 1:
            names.sort(key=lambda n: (self.schema.elements[n].name[1], n[0]))
        return names

    def _position(self, particle: Particle) -> int:
        return self._positions.setdefault(id(particle), len(self._positions))

    def _term(self, automaton: _Automaton, particle: Particle, start: int) -> int:
        """Adds one occurrence of the particle's term after ``start``; returns its end."""
        end = automaton.node()
        if isinstance(particle, ElementParticle):
            position = self._position(particle)
            for rank, name in enumerate(self._alternatives(particle)):
                declaration = self.schema.elements[name]
                event = _Event(START_ELEMENT, declaration.name, (position, rank), name)
                automaton.events[start].append((event, end))
        elif isinstance(particle, WildcardParticle):
            event = _Event(UNSUPPORTED, ("*", "*"), (self._position(particle),))
            automaton.events[start].append((event, end))
        elif particle.compositor == "sequence":
            current = start
            for inner in particle.particles:
                current = self._particle(automaton, inner, current)
            automaton.empty[current].append(end)
        else:
            for inner in particle.particles:
                automaton.empty[self._particle(automaton, inner, start)].append(end)
        return end

    def _particle(self, automaton: _Automaton, particle: Particle, start: int) -> int:
        """EXI 8.5.4.1.5: ``min`` mandatory copies, then optional ones or a loop."""
        current = start
        for _ in range(particle.min_occurs):
            current = self._term(automaton, particle, current)
        if particle.max_occurs == UNBOUNDED:
            loop_end = self._term(automaton, particle, current)
            automaton.empty[loop_end].append(current)
            return current
        exit_node = automaton.node()
        automaton.empty[current].append(exit_node)
        for _ in range(particle.max_occurs - particle.min_occurs):
            current = self._term(automaton, particle, current)
            automaton.empty[current].append(exit_node)
        return exit_node

    # -- complex types ------------------------------------------------------------------

    def _complex(self, complex_type: ComplexType) -> ElementGrammar:
        automaton = _Automaton()
        start = automaton.node(content=False)
        current = start
        # EXI 8.5.4.1.3.1: attribute uses sorted by local name, then namespace URI.
        attributes = sorted(complex_type.attributes, key=lambda a: (a.name[1], a.name[0]))
        for use in attributes:
            after = automaton.node(content=False)
            event = _Event(ATTRIBUTE, use.name, (use.name[1], use.name[0]), attribute=use)
            automaton.events[current].append((event, after))
            if not use.required:
                automaton.empty[current].append(after)
            current = after
        content_start = automaton.node()
        automaton.empty[current].append(content_start)
        if complex_type.simple_content is not None:
            end = automaton.node()
            event = _Event(CHARACTERS, ("", "value"), (0,), simple=complex_type.simple_content)
            automaton.events[content_start].append((event, end))
        elif complex_type.content is not None:
            end = self._particle(automaton, complex_type.content, content_start)
        else:
            end = content_start
        order: dict[str, int] = {}
        for use in attributes:
            order.setdefault(use.name[1], len(order))
        lists: set[str] = set()
        if complex_type.simple_content is not None:
            order["value"] = len(order)
        elif complex_type.content is not None:
            for name, repeated in self._children(complex_type.content, False):
                order.setdefault(name, len(order))
                if repeated:
                    lists.add(name)
        grammar = ElementGrammar(complex_type.name, len(self.states), -1, order, frozenset(lists))
        self._determinize(automaton, start, end, complex_type)
        return grammar

    def _children(self, particle: Particle, repeated: bool) -> Iterator[tuple[str, bool]]:
        repeated = repeated or particle.max_occurs == UNBOUNDED or particle.max_occurs > 1
        if isinstance(particle, ElementParticle):
            for name in self._alternatives(particle):
                yield self.schema.elements[name].name[1], repeated
        elif isinstance(particle, GroupParticle):
            for inner in particle.particles:
                yield from self._children(inner, repeated)

    def _determinize(
        self, automaton: _Automaton, start: int, end: int, complex_type: ComplexType
    ) -> None:
        """Closure over empty transitions and merging of equal events (EXI 8.5.4.2);
        appends the states to ``self.states``, the first one being the start state."""

        def closure(nodes: frozenset[int]) -> frozenset[int]:
            seen = set(nodes)
            stack = list(nodes)
            while stack:
                for target in automaton.empty[stack.pop()]:
                    if target not in seen:
                        seen.add(target)
                        stack.append(target)
            return frozenset(seen)

        first = closure(frozenset([start]))
        index: dict[frozenset[int], int] = {first: len(self.states)}
        pending = [first]
        built: dict[int, State] = {}
        base = len(self.states)
        # Reserve the slots; states refer to each other by index.
        self.states.append(State(0, (), {}))
        while pending:
            nodes = pending.pop()
            merged: dict[tuple[int, QName], tuple[_Event, set[int]]] = {}
            for node in sorted(nodes):
                for event, target in automaton.events[node]:
                    key = (event.kind, event.qname)
                    if key in merged:
                        merged[key][1].add(target)
                    else:
                        merged[key] = (event, {target})
            ordered = sorted(merged.values(), key=lambda item: _event_rank(item[0]))
            productions: list[Production] = []
            for event, targets in ordered:
                successor = closure(frozenset(targets))
                if successor not in index:
                    index[successor] = len(self.states)
                    self.states.append(State(0, (), {}))
                    pending.append(successor)
                productions.append(self._production(event, index[successor]))
            if end in nodes:
                productions.append((END_ELEMENT, "", -1, -1, None))
            if complex_type.mixed and any(automaton.content[n] for n in nodes):
                # EXI 8.5.4.1.3.2: mixed content adds untyped character data.
                productions.append((UNSUPPORTED, "#text", -1, index[nodes], None))
            codes = {p[1]: code for code, p in enumerate(productions) if p[0] != UNSUPPORTED}
            # EXI 8.5.4.4.1: with strict false every state has second-level productions,
            # reached through one extra first-level code.
            built[index[nodes]] = State(
                _width(len(productions) + 1),
                tuple(productions),
                codes,
                _second_level_width(nodes == first, automaton, nodes),
            )
        for position, state in built.items():
            self.states[position] = state
        assert base in built

    def _production(self, event: _Event, successor: int) -> Production:
        if event.kind == START_ELEMENT:
            assert event.declaration is not None
            declaration = self.schema.elements[event.declaration]
            child = self.element(declaration)
            leaf = (
                self.values[self.value(declaration.type)]
                if isinstance(declaration.type, SimpleType)
                else None
            )
            return (START_ELEMENT, declaration.name[1], child, successor, leaf)
        if event.kind == ATTRIBUTE:
            assert event.attribute is not None
            codec = self.values[self.value(event.attribute.type)]
            return (ATTRIBUTE, event.qname[1], -1, successor, codec)
        if event.kind == CHARACTERS:
            assert event.simple is not None
            return (CHARACTERS, "value", -1, successor, self.values[self.value(event.simple)])
        return (event.kind, event.qname[1], -1, successor, None)


def _second_level_width(first: bool, automaton: _Automaton, nodes: frozenset[int]) -> int:
    """Width of the second-level event code of a state (EXI 8.5.4.4.1, as EXIficient
    counts them; there is no third level without preserved comments or PIs)."""
    if first:  # EE, AT(xsi:type), AT(xsi:nil), AT(*), AT(*) untyped, SE(*), CH untyped
        return _width(7)
    if any(not automaton.content[n] for n in nodes):  # EE, AT(*) both ways, SE(*), CH
        return _width(5)
    return _width(3)  # EE, SE(*), CH untyped


def _event_rank(event: _Event) -> tuple[int, tuple[object, ...]]:
    # EXI 8.5.4.2.3: AT(qname) sorted, then SE(qname) in schema order, then SE(*).
    group = {ATTRIBUTE: 0, START_ELEMENT: 1, UNSUPPORTED: 2, CHARACTERS: 4}[event.kind]
    return group, event.order


def compile_grammar(schema: Schema) -> GrammarTable:
    """The grammar table of a schema: all element grammars and the document grammar."""
    builder = _Builder(schema)
    # EXI 8.5.4.1.2: the document grammar lists global elements sorted by local name,
    # then namespace URI; SE(*) follows them.
    names = sorted(schema.global_elements, key=lambda n: (n[1], n[0]))
    document: list[tuple[str, int]] = []
    roots: dict[str, tuple[int, int]] = {}
    for code, name in enumerate(names):
        declaration = schema.elements[name]
        grammar = builder.element(declaration)
        document.append((name[1], grammar))
        if name[1] not in roots or name[0] == schema.target_namespace:
            roots[name[1]] = (code, grammar)
    # EXI 8.5.4.1.1: the fragment grammar lists every element declaration (global and
    # local) once per qname, sorted by local name then URI; SE(*) and ED follow.
    by_qname: dict[QName, list[ElementDeclaration]] = {}
    for declaration in schema.elements.values():
        by_qname.setdefault(declaration.name, []).append(declaration)
    fragment_list: list[tuple[str, int]] = []
    fragments: dict[str, tuple[int, int]] = {}
    for code, qname in enumerate(sorted(by_qname, key=lambda n: (n[1], n[0]))):
        declarations = by_qname[qname]
        same_type = all(d.type is declarations[0].type for d in declarations)
        # A qname declared with several types would need the relaxed fragment grammar;
        # such an element cannot be a fragment root here (-1).
        grammar = builder.element(declarations[0]) if same_type else -1
        fragment_list.append((qname[1], grammar))
        if qname[1] not in fragments or qname[0] == schema.target_namespace:
            fragments[qname[1]] = (code, grammar)
    relaxed: list[tuple[str, ValueCodec]] = []
    relaxed_index: dict[QName, int] = {}
    for qname in sorted(schema.attributes, key=lambda n: (n[1], n[0])):
        types = schema.attributes[qname]
        simple = types[0] if len(types) == 1 else SimpleType("string")
        relaxed_index[qname] = len(relaxed)
        relaxed.append((qname[1], value_codec(simple)))
    relaxed_roots: dict[str, dict[str, int]] = {}
    for root_name, (_code, grammar) in fragments.items():
        if grammar >= 0:
            continue
        # The JSON of such a root has the shape of its complex declaration (-2 eMAID:
        # the signed EMAIDType with an Id, not the plain string of PaymentDetailsReq).
        for declaration in by_qname[next(q for q in by_qname if q[1] == root_name)]:
            if isinstance(declaration.type, ComplexType) and declaration.type.attributes:
                relaxed_roots[root_name] = {
                    use.name[1]: relaxed_index[use.name] for use in declaration.type.attributes
                }
                break
    elements = tuple(e for e in builder.elements if e is not None)
    assert len(elements) == len(builder.elements)
    return GrammarTable(
        schema.target_namespace,
        tuple(builder.states),
        elements,
        tuple(builder.values),
        tuple(document),
        _width(len(names) + 1),
        roots,
        fragments,
        tuple(fragment_list),
        _width(len(fragment_list) + 2),
        tuple(relaxed),
        relaxed_roots,
    )
