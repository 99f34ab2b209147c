"""Which XSD file of the iso15118 package defines each namespace, and the compiled,
cached grammar table of each (compiled on first use, about XX ms per schema)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Final

from v2g.exi.grammar import GrammarTable, compile_grammar
from v2g.exi.xsd import read_schema

APP_PROTOCOL: Final = "urn:iso:15118:2:2010:AppProtocol"
DIN: Final = "urn:din:70121:2012:MsgDef"
ISO2: Final = "urn:iso:15118:2:2013:MsgDef"
ISO20_COMMON: Final = "urn:iso:std:iso:15118:-20:CommonMessages"
ISO20_AC: Final = "urn:iso:std:iso:15118:-20:AC"
ISO20_DC: Final = "urn:iso:std:iso:15118:-20:DC"
ISO20_WPT: Final = "urn:iso:std:iso:15118:-20:WPT"
ISO20_ACDP: Final = "urn:iso:std:iso:15118:-20:ACDP"
XML_DSIG: Final = "http://www.w3.org/2000/09/xmldsig#"

#: Namespace -> schema file under ``iso15118/shared/schemas`` (as the Java codec maps
#: them: one schema, with its imports, per namespace).
SCHEMA_FILES: Final[dict[str, str]] = {
    APP_PROTOCOL: "V2G_CI_AppProtocol.xsd",
    DIN: "din_spec/V2G_CI_MsgDef.xsd",
    ISO2: "iso15118_2/V2G_CI_MsgDef.xsd",
    ISO20_COMMON: "iso15118_20/V2G_CI_CommonMessages.xsd",
    ISO20_AC: "iso15118_20/V2G_CI_AC.xsd",
    ISO20_DC: "iso15118_20/V2G_CI_DC.xsd",
    ISO20_WPT: "iso15118_20/V2G_CI_WPT.xsd",
    ISO20_ACDP: "iso15118_20/V2G_CI_ACDP.xsd",
    XML_DSIG: "xmldsig-core-schema.xsd",
}

#: Elements encoded as EXI fragments rather than documents, per namespace: the parts
#: ISO 15118 signs (V2G2-771, [V2G20-771]) and the ones iso15118's Java codec encodes
#: the same way (its EXICodec fragment lists). In the xmldsig namespace, every element.
FRAGMENT_ROOTS: Final[dict[str, frozenset[str]]] = {
    ISO2: frozenset(
        {
            "AuthorizationReq",
            "CertificateInstallationReq",
            "ContractSignatureCertChain",
            "ContractSignatureEncryptedPrivateKey",
            "DHpublickey",
            "MeteringReceiptReq",
            "SalesTariff",
            "SignedInfo",
            "eMAID",
        }
    ),
    ISO20_COMMON: frozenset({"OEMProvisioningCertificateChain", "PnC_AReqAuthorizationMode"}),
}


def is_fragment(namespace: str, root: str) -> bool:
    """Whether the element ``root`` of ``namespace`` is encoded as an EXI fragment."""
    return namespace == XML_DSIG or root in FRAGMENT_ROOTS.get(namespace, frozenset())


NAMESPACES: Final = tuple(SCHEMA_FILES)


class UnknownNamespace(KeyError):
    """No schema is known for this namespace."""


def schema_directory() -> Path:
    """The folder of XSD files shipped inside the iso15118 package."""
    return Path(str(resources.files("iso15118.shared").joinpath("schemas")))


@functools.cache
def grammar_table(namespace: str) -> GrammarTable:
    """The compiled grammars of ``namespace``'s schema (built once per process)."""
    try:
        relative = SCHEMA_FILES[namespace]
    except KeyError:
        raise UnknownNamespace(
            f"unknown namespace {namespace!r}; known: {', '.join(NAMESPACES)}"
        ) from None
    return compile_grammar(read_schema(schema_directory() / relative))
