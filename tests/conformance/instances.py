"""Minimal and maximal instances of every message, derived from the XSDs the native
codec compiles (``v2g.exi.xsd``), in the iso15118 JSON shape.

*Minimal*: every optional particle absent, a choice takes its first branch, a
substitution group its first non-abstract member. *Maximal*: every optional particle
present (repeatable ones once, or twice in odd variants), choices and enumerations
varied by ``variant`` so that several maximal instances cover different branches.
Values are small and in range; where the schema restricts a length this reader does
not keep (hexBinary ``maxLength``), the value chosen fits every ISO 15118 field.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from v2g.exi.schemas import (
    DIN,
    ISO2,
    ISO20_AC,
    ISO20_ACDP,
    ISO20_COMMON,
    ISO20_DC,
    ISO20_WPT,
    SCHEMA_FILES,
    XML_DSIG,
    schema_directory,
)
from v2g.exi.xsd import (
    UNBOUNDED,
    ComplexType,
    ElementParticle,
    GroupParticle,
    Particle,
    QName,
    Schema,
    SimpleType,
    WildcardParticle,
    read_schema,
)

#: Past this depth only mandatory content is generated (xmldsig types recurse).
MAX_DEPTH = 14

#: Values for elements whose schema facets this reader does not keep (lengths).
_HEX_BY_NAME = {
    "SessionID": "0102030405060708",  # hexBinary maxLength 8
    "EVCCID": "0A0B0C0D0E0F",  # -2: maxLength 6; DIN: maxLength 8
    "EVSEID": "00",
}
_BASE64_BYTES_BY_NAME = {"GenChallenge": 16, "DHpublickey": 65}
_STRING_BY_NAME = {
    "EVCCID": "WMIV1234567890ABCDEX",
    "EVSEID": "DE*V2G*E1",
    "eMAID": "DEV2GC123456780",
}

#: xmldsig algorithm URIs ISO 15118 uses (-2 Table 13, -20 Table 8).
_ALGORITHMS = (
    "http://www.w3.org/TR/canonical-exi/",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmlenc#sha256",
)

#: The optional xmldsig parts ISO 15118 signatures carry (-2 7.9.2.4, [V2G20-771]);
#: the others hold xs:any, which the codec refuses (v2g/exi/README.md).
_SIGNATURE_PARTS = frozenset({"Transforms", "Transform"})


def _optional_signature_part(particle: Particle) -> bool:
    """An optional xmldsig element or group that signatures in ISO 15118 leave out."""
    if isinstance(particle, ElementParticle):
        namespace, name = particle.declaration
        return namespace == XML_DSIG and name.split("#")[0] not in _SIGNATURE_PARTS
    return isinstance(particle, GroupParticle) and any(
        isinstance(p, WildcardParticle) for p in particle.particles
    )


#: The unit DIN 70121 and -2 require for a PhysicalValue, by words in its element's
#: name (DIN Table 68 ff., -2 8.5.2.7 and the message tables): checked in this order.
_UNITS = (
    ("Voltage", "V"),
    ("Current", "A"),
    ("Ripple", "A"),
    ("EnergyCapacity", "Wh"),
    ("EnergyRequest", "Wh"),
    ("EnergyToBeDelivered", "Wh"),
    ("EAmount", "Wh"),
    ("Power", "W"),
    ("PMax", "W"),
    ("Time", "s"),
)


def _unit_of(element: str) -> str:
    for word, unit in _UNITS:
        if word in element:
            return unit
    return ""


MESSAGE_NAMESPACES = (DIN, ISO2, ISO20_COMMON, ISO20_AC, ISO20_DC, ISO20_WPT, ISO20_ACDP)


@dataclass(frozen=True, slots=True)
class Instance:
    """One generated message: where it belongs and its JSON-shaped document."""

    namespace: str
    message: str
    #: "minimal" (no optional element), "outer" (the message's own optional elements,
    #: minimal inside) or "maximal" (every optional element).
    kind: str
    variant: int
    document: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.message} {self.kind}" + (
            f"#{self.variant}" if self.kind != "minimal" else ""
        )


#: How deep (0 = the message's own children) optional elements are generated.
OPTIONAL_DEPTH = {"minimal": -10, "outer": 0, "maximal": 1_000}


class _Builder:
    def __init__(self, schema: Schema, kind: str, variant: int) -> None:
        self.schema = schema
        self.optional_depth = OPTIONAL_DEPTH[kind]
        self.maximal = kind != "minimal"
        self.variant = variant
        self.members: dict[QName, list[QName]] = {}
        for name in schema.global_elements:
            head = schema.elements[name].substitution_head
            while head is not None:
                self.members.setdefault(head, []).append(name)
                head = schema.elements[head].substitution_head
        #: A substitution-group head forced to one member (V2G_Message Body).
        self.force: dict[QName, QName] = {}
        #: The most alternatives met in one choice or substitution group.
        self.branching = 1
        #: Names of the elements being built, outermost first.
        self.path: list[str] = []

    def element(self, key: QName, depth: int) -> Any:
        declaration = self.schema.elements[key]
        if isinstance(declaration.type, SimpleType):
            return self.value(declaration.type, declaration.name[1])
        self.path.append(declaration.name[1])
        try:
            return self.complex(declaration.type, declaration.name[1], depth)
        finally:
            self.path.pop()

    def complex(self, complex_type: ComplexType, name: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        deep = depth > min(MAX_DEPTH, self.optional_depth)
        for use in complex_type.attributes:
            if use.required or (self.maximal and not deep):
                result[use.name[1]] = self.value(use.type, use.name[1])
        if complex_type.simple_content is not None:
            result["value"] = self.value(complex_type.simple_content, name)
        if complex_type.content is not None:
            self.particle(complex_type.content, result, depth, deep)
        return result

    def occurrences(self, particle: Particle, deep: bool) -> int:
        if isinstance(particle, ElementParticle) and particle.declaration in self.force:
            return 1  # the message itself, even where DIN's Body makes it optional
        if deep or _optional_signature_part(particle):
            return particle.min_occurs
        wanted = 2 if self.variant % 2 else 1
        most = wanted if particle.max_occurs == UNBOUNDED else min(wanted, particle.max_occurs)
        return max(particle.min_occurs, most)

    def particle(self, particle: Particle, out: dict[str, Any], depth: int, deep: bool) -> None:
        count = self.occurrences(particle, deep)
        if isinstance(particle, WildcardParticle):
            if particle.min_occurs:
                raise ValueError("a mandatory xs:any cannot be generated")
            return
        for _ in range(count):
            if isinstance(particle, ElementParticle):
                chosen = self.substitute(particle)
                declaration = self.schema.elements[chosen]
                value = self.element(chosen, depth + 1)
                name = declaration.name[1]
                if particle.max_occurs == UNBOUNDED or particle.max_occurs > 1:
                    out.setdefault(name, []).append(value)
                else:
                    out[name] = value
            elif particle.compositor == "sequence":
                for inner in particle.particles:
                    self.particle(inner, out, depth, deep)
            else:
                self.particle(self.branch(particle, deep), out, depth, deep)

    def branch(self, choice: GroupParticle, deep: bool) -> Particle:
        # xmldsig's xs:any branches cannot be carried in JSON (the codec refuses them).
        usable = [p for p in choice.particles if not isinstance(p, WildcardParticle)]
        self.branching = max(self.branching, len(usable))
        if not self.maximal:
            return usable[0]
        return usable[self.variant % len(usable)]

    def substitute(self, particle: ElementParticle) -> QName:
        key = particle.declaration
        if particle.local:
            return key
        if key in self.force:
            return self.force[key]
        candidates = [key, *self.members.get(key, [])]
        # Members before the head: the -20 heads (CLReqControlMode ...) and DIN's
        # EVChargeParameter are concrete but empty; an EV sends a member.
        concrete = [c for c in candidates[1:] if not self.schema.elements[c].abstract]
        concrete += [key] if not self.schema.elements[key].abstract else []
        self.branching = max(self.branching, len(concrete))
        if not concrete:
            raise ValueError(f"no concrete element for {key}")
        return concrete[self.variant % len(concrete)] if self.maximal else concrete[0]

    def value(self, simple: SimpleType, name: str) -> Any:
        kind = simple.kind
        if kind == "boolean":
            return self.maximal
        if kind == "enum" and name == "Unit" and self.path:
            unit = _unit_of(self.path[-1])
            if unit in simple.enumeration:
                return unit
        if kind == "enum":
            options = simple.enumeration
            return options[self.variant % len(options)] if self.maximal else options[0]
        if kind in ("integer", "decimal"):
            low = simple.minimum if simple.minimum is not None else -(2**31)
            high = simple.maximum if simple.maximum is not None else 2**31
            return max(low, min(high, 1))
        if kind == "hex":
            return _HEX_BY_NAME.get(name, "0A")
        if name == "Algorithm":
            return _ALGORITHMS[self.variant % len(_ALGORITHMS)]
        if kind == "base64":
            size = _BASE64_BYTES_BY_NAME.get(name, 16)
            return base64.b64encode(bytes(range(1, size + 1))).decode()
        return _STRING_BY_NAME.get(name, "V2G")


def _schema(namespace: str) -> Schema:
    return read_schema(schema_directory() / SCHEMA_FILES[namespace])


def message_names(namespace: str, schema: Schema | None = None) -> list[tuple[str, str]]:
    """The messages of ``namespace`` as qnames: DIN and -2 members of the Body's
    substitution group (declared in their MsgBody namespace), -20 root elements ending
    in Req or Res; in schema order."""
    schema = schema or _schema(namespace)
    if namespace in (DIN, ISO2):
        heads = [n for n in schema.global_elements if n[1] == "BodyElement"]
        return [
            n
            for n in schema.global_elements
            if schema.elements[n].substitution_head in heads and not schema.elements[n].abstract
        ]
    return [
        n
        for n in schema.global_elements
        if n[0] == namespace and n[1].endswith(("Req", "Res")) and not schema.elements[n].abstract
    ]


def instances(namespace: str, direction: str = "Req", max_variants: int = 8) -> Iterator[Instance]:
    """Minimal and up to ``max_variants`` maximal instances of every message of ``namespace``
    whose name ends with ``direction`` (``Req``: EV to SECC, ``Res``: SECC to EV)."""
    schema = _schema(namespace)
    for key in message_names(namespace, schema):
        message = key[1]
        if not message.endswith(direction):
            continue
        minimal, _ = build(schema, namespace, key, "minimal", 0)
        yield Instance(namespace, message, "minimal", 0, minimal)
        seen: list[dict[str, Any]] = [minimal]
        for kind in ("outer", "maximal"):
            variant, branching = 0, 1
            while variant < max(branching, 2) and variant < max_variants:
                document, branching = build(schema, namespace, key, kind, variant)
                if document not in seen:
                    seen.append(document)
                    yield Instance(namespace, message, kind, variant, document)
                variant += 1


def build(
    schema: Schema, namespace: str, key: QName, kind: str, variant: int
) -> tuple[dict[str, Any], int]:
    """One instance of ``message`` in the JSON shape the codecs take, and the most
    alternatives one of its choices offered (how many variants cover them)."""
    builder = _Builder(schema, kind, variant)
    head = schema.elements[key].substitution_head
    if namespace in (DIN, ISO2) and head is not None:
        builder.force[head] = key
        # V2G_Message and Body sit above the message: depth -2 and -1.
        return {"V2G_Message": builder.element((namespace, "V2G_Message"), -2)}, builder.branching
    return {key[1]: builder.element(key, 0)}, builder.branching
