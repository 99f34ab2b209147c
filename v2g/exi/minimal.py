"""The smallest schema-valid instance of a message, in the codec's JSON shape.

ISO 15118 wants a negative answer even to a request the SECC cannot process, a
response with its mandatory parameters only (ISO 15118-2 [V2G2-736] and [V2G2-538], as
iso15118's own failed responses cite them; DIN SPEC 70121 and -20 likewise); where
iso15118's models cannot build that answer, it is built here from the XSDs the codec
compiles: every optional particle absent, the first branch of each choice, the first
concrete member of a substitution group, and neutral values (false, the first
enumeration value, the integer closest to 0 in range, empty text and binary).
"""

from __future__ import annotations

import functools
from typing import Any

from v2g.exi.schemas import DIN, ISO2, SCHEMA_FILES, schema_directory
from v2g.exi.xsd import (
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


class NoSuchMessage(LookupError):
    """The namespace's schema declares no such message."""


@functools.cache
def _schema(namespace: str) -> Schema:
    return read_schema(schema_directory() / SCHEMA_FILES[namespace])


def _members(schema: Schema, head: QName) -> list[QName]:
    return [n for n in schema.global_elements if schema.elements[n].substitution_head == head]


def minimal_message(namespace: str, message: str) -> dict[str, Any]:
    """The minimal instance of ``message`` (e.g. ``"MeteringConfirmationRes"``) in
    ``namespace``: for DIN and -2 a whole ``V2G_Message`` with it as the Body."""
    schema = _schema(namespace)
    if namespace in (DIN, ISO2):
        head = next((n for n in schema.global_elements if n[1] == "BodyElement"), None)
        members = _members(schema, head) if head else []
        chosen = next((n for n in members if n[1] == message), None)
        if head is None or chosen is None:
            raise NoSuchMessage(f"{message} is not a message of {namespace}")
        builder = _Minimal(schema, {head: chosen})
        return {"V2G_Message": builder.element((namespace, "V2G_Message"))}
    key = (namespace, message)
    if key not in schema.elements:
        raise NoSuchMessage(f"{message} is not a message of {namespace}")
    return {message: _Minimal(schema, {}).element(key)}


class _Minimal:
    def __init__(self, schema: Schema, force: dict[QName, QName]) -> None:
        self.schema = schema
        self.force = force

    def element(self, key: QName) -> Any:
        declaration = self.schema.elements[key]
        if isinstance(declaration.type, SimpleType):
            return _value(declaration.type)
        return self.complex(declaration.type)

    def complex(self, complex_type: ComplexType) -> dict[str, Any]:
        result: dict[str, Any] = {
            use.name[1]: _value(use.type) for use in complex_type.attributes if use.required
        }
        if complex_type.simple_content is not None:
            result["value"] = _value(complex_type.simple_content)
        if complex_type.content is not None:
            self.particle(complex_type.content, result)
        return result

    def particle(self, particle: Particle, out: dict[str, Any]) -> None:
        # The forced message is there even where its head is optional (DIN's Body).
        forced = isinstance(particle, ElementParticle) and particle.declaration in self.force
        for _ in range(max(particle.min_occurs, 1 if forced else 0)):
            if isinstance(particle, WildcardParticle):
                raise NoSuchMessage("a mandatory xs:any cannot be built")
            if isinstance(particle, ElementParticle):
                chosen = self.substitute(particle)
                value = self.element(chosen)
                name = self.schema.elements[chosen].name[1]
                if particle.max_occurs != 1:
                    out.setdefault(name, []).append(value)
                else:
                    out[name] = value
            elif isinstance(particle, GroupParticle) and particle.compositor == "sequence":
                for inner in particle.particles:
                    self.particle(inner, out)
            else:
                assert isinstance(particle, GroupParticle)
                self.particle(particle.particles[0], out)

    def substitute(self, particle: ElementParticle) -> QName:
        key = particle.declaration
        if particle.local:
            return key
        if key in self.force:
            return self.force[key]
        if not self.schema.elements[key].abstract:
            return key
        for member in _members(self.schema, key):
            if not self.schema.elements[member].abstract:
                return member
        raise NoSuchMessage(f"no concrete element for {key[1]}")


def _value(simple: SimpleType) -> Any:
    if simple.kind == "boolean":
        return False
    if simple.kind == "enum":
        return simple.enumeration[0]
    if simple.kind in ("integer", "decimal"):
        low = simple.minimum if simple.minimum is not None else 0
        high = simple.maximum if simple.maximum is not None else max(low, 0)
        return min(max(0, low), high)
    if simple.kind == "hex":
        return "00"
    if simple.kind == "base64":
        return "AA=="
    return ""
