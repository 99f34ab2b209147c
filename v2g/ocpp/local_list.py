"""The local authorization list a charging station keeps for when its CSMS is away
(OCPP 2.0.1 D01 SendLocalList, D02 GetLocalListVersion, C-block LocalAuthorizeOffline).
Pure: the list and a payload in, the next list and the answer out.

An entry is an idToken (value and type) with its idTokenInfo. Values are compared as
the drivers' store keeps them (RFID UIDs, MAC addresses and eMAIDs upper case without
separators), so the EV's EVCCID ``00:11:22:33:44:55`` finds ``001122334455``.

Version 0 means no list is installed (D02); the CSMS numbers its lists from 1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACCEPTED, FAILED, VERSION_MISMATCH = "Accepted", "Failed", "VersionMismatch"
#: Types whose values are hex or letters and digits with optional separators.
_FOLDED = {"ISO14443": ":", "ISO15693": ":", "MacAddress": ":-", "eMAID": "-"}

TokenKey = tuple[str, str]  # (type, value as compared)


def token_key(id_token: Mapping[str, Any]) -> TokenKey:
    """An OCPP ``IdTokenType``'s key in the list: its type and its folded value."""
    kind = str(id_token.get("type", ""))
    value = str(id_token.get("idToken", ""))
    separators = _FOLDED.get(kind)
    if separators is not None:
        value = value.upper()
        for separator in separators:
            value = value.replace(separator, "")
    return kind, value


@dataclass(frozen=True, slots=True)
class LocalList:
    """One version of the list: each token's idTokenInfo, by ``token_key``."""

    version: int = 0
    entries: Mapping[TokenKey, Mapping[str, Any]] = field(default_factory=dict)

    def wire(self) -> dict[str, Any]:
        """The list as stored: its version and its entries in OCPP's shape."""
        return {
            "versionNumber": self.version,
            "localAuthorizationList": [
                {"idToken": {"idToken": value, "type": kind}, "idTokenInfo": dict(info)}
                for (kind, value), info in sorted(self.entries.items())
            ],
        }

    @staticmethod
    def from_wire(data: Mapping[str, Any]) -> LocalList:
        """The list ``wire`` wrote (raises KeyError, TypeError or ValueError when it is
        not one)."""
        version = data["versionNumber"]
        if not isinstance(version, int) or version < 0:
            raise ValueError(f"versionNumber: {version!r}")
        entries = {
            token_key(e["idToken"]): e["idTokenInfo"] for e in data["localAuthorizationList"]
        }
        return LocalList(version, entries)


@dataclass(frozen=True, slots=True)
class Update:
    """What a SendLocalList did: the list now in force and the status to answer
    (``reason`` says why when it is not Accepted)."""

    list: LocalList
    status: str
    reason: str = ""

    def answer(self) -> dict[str, Any]:
        """The SendLocalListResponse payload."""
        if self.status == ACCEPTED:
            return {"status": ACCEPTED}
        info = {"reasonCode": "InvalidValue", "additionalInfo": self.reason[:500]}
        return {"status": self.status, "statusInfo": info}


def updated(current: LocalList, request: Mapping[str, Any]) -> Update:
    """``current`` after a SendLocalListRequest (already checked against its schema).

    Full replaces the list with the entries given (none: an empty list); every entry
    of a Full update carries its idTokenInfo. Differential adds or replaces the entries
    with an idTokenInfo and removes those without; its version must be above the one
    installed, else VersionMismatch (the CSMS then sends a Full list). A request that
    cannot be applied (version below 1, a token twice) fails and leaves ``current``.
    """
    version = int(request["versionNumber"])
    given = request.get("localAuthorizationList", [])
    if version < 1:
        return Update(current, FAILED, f"versionNumber {version}: lists are numbered from 1")
    keys = [token_key(e["idToken"]) for e in given]
    twice = sorted(f"{k} {v}" for (k, v), n in Counter(keys).items() if n > 1)
    if twice:
        return Update(current, FAILED, f"token given twice: {', '.join(twice)}")
    undated = [_undated(e["idTokenInfo"]) for e in given if "idTokenInfo" in e]
    if any(undated):
        return Update(current, FAILED, "; ".join(u for u in undated if u))
    if request["updateType"] == "Full":
        bare = [
            f"{k} {v}" for (k, v), e in zip(keys, given, strict=True) if "idTokenInfo" not in e
        ]
        if bare:
            return Update(current, FAILED, f"a Full list needs idTokenInfo: {', '.join(bare)}")
        entries = {key: e["idTokenInfo"] for key, e in zip(keys, given, strict=True)}
        return Update(LocalList(version, entries), ACCEPTED)
    if version <= current.version:
        reason = f"versionNumber {version} is not above the installed {current.version}"
        return Update(current, VERSION_MISMATCH, reason)
    entries = dict(current.entries)
    for key, entry in zip(keys, given, strict=True):
        if "idTokenInfo" in entry:
            entries[key] = entry["idTokenInfo"]
        else:
            entries.pop(key, None)
    return Update(LocalList(version, entries), ACCEPTED)


@dataclass(frozen=True, slots=True)
class OfflineVerdict:
    """The list's answer to a token while the CSMS is away: an idTokenInfo status
    (OCPP's words) and why."""

    status: str
    reason: str

    def payload(self) -> dict[str, Any]:
        """As an AuthorizeResponse payload, so it is read as the CSMS's answer is."""
        return {"idTokenInfo": {"status": self.status}}


def offline_verdict(
    local: LocalList, id_token: Mapping[str, Any], now: datetime, accept_unknown: bool
) -> OfflineVerdict:
    """Whether ``id_token`` may charge while the CSMS is away: a listed token by its
    status (Accepted only until its ``cacheExpiryDateTime``, then Expired); an unlisted
    one only when ``accept_unknown`` (OCPP's OfflineTxForUnknownIdEnabled)."""
    kind, value = token_key(id_token)
    info = local.entries.get((kind, value))
    if info is None:
        if accept_unknown:
            return OfflineVerdict(ACCEPTED, f"{kind} {value} not listed; unknown tokens allowed")
        return OfflineVerdict("Unknown", f"{kind} {value} not in local list v{local.version}")
    status = str(info.get("status", "Invalid"))
    expiry = info.get("cacheExpiryDateTime")
    if status == ACCEPTED and expiry is not None and _parsed(str(expiry)) <= now:
        return OfflineVerdict("Expired", f"{kind} {value} listed until {expiry}")
    return OfflineVerdict(status, f"{kind} {value} listed as {status} (v{local.version})")


def _undated(info: Mapping[str, Any]) -> str:
    """Why ``info``'s cacheExpiryDateTime is no moment ("" when it is one or absent);
    the schema names its format, which a validator does not check."""
    expiry = info.get("cacheExpiryDateTime")
    try:
        if expiry is not None:
            _parsed(str(expiry))
    except ValueError as error:
        return f"cacheExpiryDateTime {str(expiry)[:40]!r}: {error}"
    return ""


def _parsed(moment: str) -> datetime:
    parsed = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"cacheExpiryDateTime {moment} has no time zone")
    return parsed
