"""A reader for the XML Schema subset the ISO 15118 schemas use.

It turns a schema file and everything it imports into plain declarations: element
declarations, complex types (attribute uses and a content particle tree) and simple
types reduced to what EXI needs to encode a value (EXI 1.0 section 7.1: the built-in
datatype a type derives from, integer bounds, enumerated values).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

XS = "{http://www.w3.org/2001/XMLSchema}"
UNBOUNDED = -1

#: A qualified name: (namespace URI, local name).
QName = tuple[str, str]

ValueKind = Literal["boolean", "integer", "enum", "string", "hex", "base64", "decimal"]

#: Value ranges of the built-in integer types (XML Schema part 2, section 3.3).
_INTEGER_BOUNDS: dict[str, tuple[int | None, int | None]] = {
    "integer": (None, None),
    "long": (-(2**63), 2**63 - 1),
    "int": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-128, 127),
    "nonNegativeInteger": (0, None),
    "positiveInteger": (1, None),
    "unsignedLong": (0, 2**64 - 1),
    "unsignedInt": (0, 2**32 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedByte": (0, 255),
    "nonPositiveInteger": (None, 0),
    "negativeInteger": (None, -1),
}
_STRING_TYPES = {
    "string",
    "normalizedString",
    "token",
    "anyURI",
    "ID",
    "IDREF",
    "NCName",
    "Name",
    "language",
    "NMTOKEN",
    "QName",
}


class SchemaError(ValueError):
    """The schema uses a construct this reader does not support."""


@dataclass(frozen=True, slots=True)
class SimpleType:
    """What EXI needs of a simple type: its value kind, integer bounds, enumeration."""

    kind: ValueKind
    minimum: int | None = None
    maximum: int | None = None
    enumeration: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AttributeUse:
    """An attribute of a complex type."""

    name: QName
    type: SimpleType
    required: bool


@dataclass(frozen=True, slots=True)
class ElementParticle:
    """An element in a content model; ``declaration`` keys ``Schema.elements``."""

    declaration: QName
    local: bool
    min_occurs: int
    max_occurs: int


@dataclass(frozen=True, slots=True)
class WildcardParticle:
    """An ``xs:any`` in a content model."""

    min_occurs: int
    max_occurs: int


@dataclass(frozen=True, slots=True)
class GroupParticle:
    """A sequence or choice of particles."""

    compositor: Literal["sequence", "choice"]
    particles: tuple[Particle, ...]
    min_occurs: int
    max_occurs: int


Particle = ElementParticle | WildcardParticle | GroupParticle


@dataclass(frozen=True, slots=True)
class ComplexType:
    """A complex type: attribute uses, then either a particle or simple content."""

    name: str
    attributes: tuple[AttributeUse, ...]
    content: Particle | None
    simple_content: SimpleType | None = None
    mixed: bool = False


@dataclass(frozen=True, slots=True)
class ElementDeclaration:
    """An element declaration; local declarations are keyed by a synthetic name."""

    name: QName
    type: ComplexType | SimpleType
    abstract: bool = False
    substitution_head: QName | None = None


@dataclass(frozen=True, slots=True)
class Schema:
    """All declarations reachable from one schema file."""

    target_namespace: str
    global_elements: list[QName] = field(default_factory=list)
    elements: dict[QName, ElementDeclaration] = field(default_factory=dict)
    #: Every attribute declaration's qname with the value types declared for it.
    attributes: dict[QName, list[SimpleType]] = field(default_factory=dict)


@dataclass(slots=True)
class _Document:
    root: ET.Element
    namespace: str
    prefixes: dict[str, str]
    qualified_attributes: bool
    qualified_elements: bool


def _prefixes(path: Path) -> dict[str, str]:
    prefixes: dict[str, str] = {}
    for _event, (prefix, uri) in ET.iterparse(path, events=("start-ns",)):
        prefixes.setdefault(prefix, uri)
    return prefixes


def _occurs(node: ET.Element) -> tuple[int, int]:
    low = int(node.get("minOccurs", "1"))
    high_text = node.get("maxOccurs", "1")
    return low, UNBOUNDED if high_text == "unbounded" else int(high_text)


class _Reader:
    """Loads schema documents and resolves their references lazily."""

    def __init__(self, entry: Path) -> None:
        self._documents: list[_Document] = []
        self._seen: set[Path] = set()
        self._simple: dict[QName, tuple[_Document, ET.Element]] = {}
        self._complex: dict[QName, tuple[_Document, ET.Element]] = {}
        self._global_elements: dict[QName, tuple[_Document, ET.Element]] = {}
        self._groups: dict[QName, tuple[_Document, ET.Element]] = {}
        self._complex_cache: dict[QName, ComplexType] = {}
        self._simple_cache: dict[QName, SimpleType] = {}
        self.elements: dict[QName, ElementDeclaration] = {}
        self._local_counter = 0
        self._entry_root = entry
        self._load(entry)

    def _load(self, path: Path) -> None:
        path = path.resolve()
        if path in self._seen:
            return
        self._seen.add(path)
        root = ET.parse(path).getroot()
        document = _Document(
            root,
            root.get("targetNamespace", ""),
            _prefixes(path),
            root.get("attributeFormDefault") == "qualified",
            root.get("elementFormDefault") == "qualified",
        )
        self._documents.append(document)
        for child in root:
            if child.tag in (XS + "import", XS + "include"):
                location = child.get("schemaLocation")
                if location is None:
                    continue
                target = path.parent / location
                if not target.exists():  # the package ships one xmldsig schema at the top
                    target = self._entry_root.parent.parent / Path(location).name
                    if not target.exists():
                        target = self._entry_root.parent / Path(location).name
                self._load(target)
                continue
            name = child.get("name")
            if name is None:
                continue
            key = (document.namespace, name)
            table = {
                XS + "simpleType": self._simple,
                XS + "complexType": self._complex,
                XS + "element": self._global_elements,
                XS + "group": self._groups,
            }.get(child.tag)
            if table is not None:
                table[key] = (document, child)

    def _resolve(self, document: _Document, text: str) -> QName:
        prefix, _, local = text.rpartition(":")
        return (document.prefixes.get(prefix, ""), local)

    # -- simple types -----------------------------------------------------------------

    def simple_type(self, name: QName) -> SimpleType:
        if name[0] == XS[1:-1]:
            return self._builtin(name[1])
        cached = self._simple_cache.get(name)
        if cached is None:
            if name not in self._simple:
                raise SchemaError(f"unknown simple type {name}")
            document, node = self._simple[name]
            cached = self._simple_definition(document, node)
            self._simple_cache[name] = cached
        return cached

    def _builtin(self, local: str) -> SimpleType:
        if local == "boolean":
            return SimpleType("boolean")
        if local in _INTEGER_BOUNDS:
            low, high = _INTEGER_BOUNDS[local]
            return SimpleType("integer", low, high)
        if local in _STRING_TYPES:
            return SimpleType("string")
        if local == "hexBinary":
            return SimpleType("hex")
        if local == "base64Binary":
            return SimpleType("base64")
        if local == "decimal":
            return SimpleType("decimal")
        raise SchemaError(f"unsupported built-in type xs:{local}")

    def _simple_definition(self, document: _Document, node: ET.Element) -> SimpleType:
        restriction = node.find(XS + "restriction")
        if restriction is None:
            raise SchemaError(f"simple type {node.get('name')} is not a restriction")
        base_name = restriction.get("base")
        if base_name is not None:
            base = self.simple_type(self._resolve(document, base_name))
        else:
            inner = restriction.find(XS + "simpleType")
            if inner is None:
                raise SchemaError("restriction without base")
            base = self._simple_definition(document, inner)
        return self._restrict(base, restriction)

    def _restrict(self, base: SimpleType, restriction: ET.Element) -> SimpleType:
        enumeration = tuple(
            facet.get("value", "") for facet in restriction.findall(XS + "enumeration")
        )
        if enumeration:
            # EXI 7.2: enumerated values are encoded as their index, in schema order.
            return SimpleType("enum", enumeration=enumeration)
        minimum, maximum = base.minimum, base.maximum
        for facet in restriction:
            value = facet.get("value")
            if value is None or base.kind != "integer":
                continue
            if facet.tag == XS + "minInclusive":
                minimum = int(value) if minimum is None else max(minimum, int(value))
            elif facet.tag == XS + "maxInclusive":
                maximum = int(value) if maximum is None else min(maximum, int(value))
            elif facet.tag == XS + "minExclusive":
                minimum = int(value) + 1
            elif facet.tag == XS + "maxExclusive":
                maximum = int(value) - 1
        return SimpleType(base.kind, minimum, maximum, base.enumeration)

    # -- complex types ----------------------------------------------------------------

    def complex_type(self, name: QName) -> ComplexType:
        cached = self._complex_cache.get(name)
        if cached is None:
            document, node = self._complex[name]
            cached = self._complex_definition(document, node, name[1])
            self._complex_cache[name] = cached
        return cached

    def is_complex(self, name: QName) -> bool:
        return name in self._complex

    def _complex_definition(self, document: _Document, node: ET.Element, name: str) -> ComplexType:
        mixed = node.get("mixed") == "true"
        complex_content = node.find(XS + "complexContent")
        simple_content = node.find(XS + "simpleContent")
        if simple_content is not None:
            extension = simple_content.find(XS + "extension")
            if extension is None:
                raise SchemaError(f"{name}: only simpleContent extensions are supported")
            base = self.simple_type(self._resolve(document, extension.get("base", "")))
            return ComplexType(name, self._attributes(document, extension), None, base, mixed)
        if complex_content is not None:
            mixed = mixed or complex_content.get("mixed") == "true"
            derivation = complex_content.find(XS + "extension")
            if derivation is None:
                restriction = complex_content.find(XS + "restriction")
                if restriction is None:
                    raise SchemaError(f"{name}: empty complexContent")
                # A restriction restates its whole content model.
                return ComplexType(
                    name,
                    self._attributes(document, restriction),
                    self._content(document, restriction),
                    None,
                    mixed,
                )
            parent = self.complex_type(self._resolve(document, derivation.get("base", "")))
            own = self._content(document, derivation)
            # XML Schema: an extension's content is the base content followed by its own.
            parts = tuple(p for p in (parent.content, own) if p is not None)
            content: Particle | None
            if len(parts) == 2:
                content = GroupParticle("sequence", parts, 1, 1)
            else:
                content = parts[0] if parts else None
            attributes = parent.attributes + self._attributes(document, derivation)
            return ComplexType(name, attributes, content, None, mixed or parent.mixed)
        return ComplexType(
            name, self._attributes(document, node), self._content(document, node), None, mixed
        )

    def _attributes(self, document: _Document, node: ET.Element) -> tuple[AttributeUse, ...]:
        uses: list[AttributeUse] = []
        for child in node.findall(XS + "attribute"):
            if child.get("ref") is not None:
                raise SchemaError("attribute references are not supported")
            namespace = document.namespace if document.qualified_attributes else ""
            type_name = child.get("type")
            if type_name is not None:
                value_type = self.simple_type(self._resolve(document, type_name))
            else:
                inner = child.find(XS + "simpleType")
                value_type = (
                    self._simple_definition(document, inner)
                    if inner is not None
                    else SimpleType("string")
                )
            uses.append(
                AttributeUse(
                    (namespace, child.get("name", "")),
                    value_type,
                    child.get("use") == "required",
                )
            )
        return tuple(uses)

    def _content(self, document: _Document, node: ET.Element) -> Particle | None:
        for child in node:
            if child.tag in (XS + "sequence", XS + "choice", XS + "group", XS + "all"):
                return self._particle(document, child)
        return None

    def _particle(self, document: _Document, node: ET.Element) -> Particle:
        low, high = _occurs(node)
        tag = node.tag
        if tag == XS + "element":
            return ElementParticle(*self._element_reference(document, node), low, high)
        if tag == XS + "any":
            return WildcardParticle(low, high)
        if tag == XS + "group":
            group_document, group = self._groups[self._resolve(document, node.get("ref", ""))]
            inner = self._content(group_document, group)
            if inner is None:
                raise SchemaError("empty model group")
            return GroupParticle("sequence", (inner,), low, high)
        if tag in (XS + "sequence", XS + "choice"):
            particles = tuple(
                self._particle(document, child)
                for child in node
                if child.tag
                in (XS + "element", XS + "any", XS + "sequence", XS + "choice", XS + "group")
            )
            compositor: Literal["sequence", "choice"] = (
                "sequence" if tag == XS + "sequence" else "choice"
            )
            return GroupParticle(compositor, particles, low, high)
        raise SchemaError(f"unsupported particle {tag}")

    def _element_reference(self, document: _Document, node: ET.Element) -> tuple[QName, bool]:
        reference = node.get("ref")
        if reference is not None:
            name = self._resolve(document, reference)
            self.global_element(name)
            return name, False
        namespace = document.namespace if document.qualified_elements else ""
        qname = (namespace, node.get("name", ""))
        self._local_counter += 1
        key = (qname[0], f"{qname[1]}#{self._local_counter}")
        self.elements[key] = ElementDeclaration(qname, self._element_type(document, node))
        return key, True

    def _element_type(self, document: _Document, node: ET.Element) -> ComplexType | SimpleType:
        type_name = node.get("type")
        if type_name is not None:
            name = self._resolve(document, type_name)
            if name[0] == XS[1:-1] or name in self._simple:
                return self.simple_type(name)
            return self.complex_type(name)
        inner_complex = node.find(XS + "complexType")
        if inner_complex is not None:
            return self._complex_definition(document, inner_complex, node.get("name", ""))
        inner_simple = node.find(XS + "simpleType")
        if inner_simple is not None:
            return self._simple_definition(document, inner_simple)
        return ComplexType("anyType", (), WildcardParticle(0, UNBOUNDED), None, True)

    def global_element(self, name: QName) -> ElementDeclaration:
        declaration = self.elements.get(name)
        if declaration is None:
            document, node = self._global_elements[name]
            head = node.get("substitutionGroup")
            # Placeholder first: recursive types (xmldsig) refer back to themselves.
            declaration = ElementDeclaration(
                name,
                self._element_type(document, node),
                node.get("abstract") == "true",
                self._resolve(document, head) if head else None,
            )
            self.elements[name] = declaration
        return declaration

    def all_global_elements(self) -> list[QName]:
        return list(self._global_elements)

    def all_complex_types(self) -> list[QName]:
        return list(self._complex)


def read_schema(entry: Path) -> Schema:
    """Every declaration reachable from the schema file ``entry``."""
    reader = _Reader(entry)
    names = reader.all_global_elements()
    for name in names:
        reader.global_element(name)
    for type_name in reader.all_complex_types():  # local elements of every named type
        reader.complex_type(type_name)
    root = ET.parse(entry).getroot()
    schema = Schema(root.get("targetNamespace", ""), names, reader.elements)
    complex_types = [reader.complex_type(n) for n in reader.all_complex_types()]
    complex_types += [d.type for d in reader.elements.values() if isinstance(d.type, ComplexType)]
    seen: set[int] = set()
    for complex_type in complex_types:
        if id(complex_type) in seen:
            continue
        seen.add(id(complex_type))
        for use in complex_type.attributes:
            types = schema.attributes.setdefault(use.name, [])
            if use.type not in types:
                types.append(use.type)
    return schema
