"""Code requirements: the small expression language of the Requirements
blob (Security framework, requirement.h / reqreader.cpp), restated.

Binary form of one requirement: Requirement blob (magic 0xFADE0C00), u32
kind (1 = expression), then the expression in prefix order: u32 opcode,
operands (u32 integers; data as u32 length + bytes padded to 4).  A
Requirements blob (0xFADE0C01) is a SuperBlob-like set {type, offset};
type 3 is the designated requirement.

Only the operators a signer needs to write a designated requirement are
here; each renders to both the binary form and the text form codesign
shows (and that CodeResources records for nested code).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .blobs import CSMAGIC_REQUIREMENT, CSMAGIC_REQUIREMENTS

OP_IDENT = 2
OP_ANCHOR_HASH = 4
OP_AND = 6
OP_CERT_FIELD = 11
OP_CERT_GENERIC = 14
OP_APPLE_GENERIC_ANCHOR = 15
MATCH_EXISTS = 0
MATCH_EQUAL = 1
KIND_EXPR = 1
DESIGNATED_REQUIREMENT = 3
SLOT_LEAF = 0
SLOT_ROOT = -1


def _data(raw: bytes) -> bytes:
    return struct.pack(">I", len(raw)) + raw + bytes(-len(raw) % 4)


def _slot_text(slot: int) -> str:
    return {SLOT_LEAF: "leaf", SLOT_ROOT: "root"}.get(slot, str(slot))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Expr:
    def encode(self) -> bytes:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Ident(Expr):
    identifier: str

    def encode(self) -> bytes:
        return struct.pack(">I", OP_IDENT) + _data(self.identifier.encode())

    def text(self) -> str:
        return f"identifier {_quote(self.identifier)}"


@dataclass(frozen=True)
class AppleGenericAnchor(Expr):
    def encode(self) -> bytes:
        return struct.pack(">I", OP_APPLE_GENERIC_ANCHOR)

    def text(self) -> str:
        return "anchor apple generic"


@dataclass(frozen=True)
class CertHash(Expr):
    """certificate <slot> = H"<sha1 of the certificate>" """
    slot: int
    sha1: bytes

    def encode(self) -> bytes:
        return struct.pack(">Ii", OP_ANCHOR_HASH, self.slot) + _data(self.sha1)

    def text(self) -> str:
        return f'certificate {_slot_text(self.slot)} = H"{self.sha1.hex()}"'


@dataclass(frozen=True)
class CertField(Expr):
    slot: int
    field: str            # e.g. "subject.OU"
    value: str

    def encode(self) -> bytes:
        return struct.pack(">Ii", OP_CERT_FIELD, self.slot) + _data(self.field.encode()) + \
            struct.pack(">I", MATCH_EQUAL) + _data(self.value.encode())

    def text(self) -> str:
        return f"certificate {_slot_text(self.slot)}[{self.field}] = {_quote(self.value)}"


@dataclass(frozen=True)
class CertGenericExists(Expr):
    slot: int
    oid_der: bytes        # OID contents octets
    oid_text: str

    def encode(self) -> bytes:
        return struct.pack(">Ii", OP_CERT_GENERIC, self.slot) + _data(self.oid_der) + \
            struct.pack(">I", MATCH_EXISTS)

    def text(self) -> str:
        return f"certificate {_slot_text(self.slot)}[field.{self.oid_text}] /* exists */"


@dataclass(frozen=True)
class And(Expr):
    left: Expr
    right: Expr

    def encode(self) -> bytes:
        return struct.pack(">I", OP_AND) + self.left.encode() + self.right.encode()

    def text(self) -> str:
        return f"{self.left.text()} and {self.right.text()}"


def all_of(*terms: Expr) -> Expr:
    """a and (b and (c ...)) - the right-nested shape codesign compiles to."""
    expr = terms[-1]
    for term in reversed(terms[:-1]):
        expr = And(term, expr)
    return expr


def requirement_blob(expr: Expr) -> bytes:
    body = struct.pack(">I", KIND_EXPR) + expr.encode()
    return struct.pack(">II", CSMAGIC_REQUIREMENT, 8 + len(body)) + body


def requirements_blob(requirements: dict[int, Expr]) -> bytes:
    count = len(requirements)
    header = 12 + 8 * count
    index = bytearray()
    body = bytearray()
    for kind in sorted(requirements):
        index += struct.pack(">II", kind, header + len(body))
        body += requirement_blob(requirements[kind])
    return struct.pack(">III", CSMAGIC_REQUIREMENTS, header + len(body), count) + index + body


def oid_contents(dotted: str) -> bytes:
    """DER contents octets of an OBJECT IDENTIFIER."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)
