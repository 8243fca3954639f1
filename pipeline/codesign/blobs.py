"""Code-signature blobs (XNU osfmk/kern/cs_blobs.h), big-endian.

Every blob starts with u32 magic, u32 length.  The embedded signature is a
SuperBlob whose index maps slot types to blobs; the CodeDirectory holds the
hashes, the other blobs are hashed into its special slots.

Parsing checks every offset and length against the enclosing blob and
raises ``CorruptError`` naming the file, architecture, blob and offset
(relative to the signature's start, which the caller names).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..binstruct import BinStruct, on_disk
from ..errors import CorruptError, UnsupportedError

# --- magics --------------------------------------------------------------------
CSMAGIC_REQUIREMENT = 0xFADE0C00
CSMAGIC_REQUIREMENTS = 0xFADE0C01
CSMAGIC_CODEDIRECTORY = 0xFADE0C02
CSMAGIC_EMBEDDED_SIGNATURE = 0xFADE0CC0
CSMAGIC_DETACHED_SIGNATURE = 0xFADE0CC1
CSMAGIC_BLOBWRAPPER = 0xFADE0B01
CSMAGIC_EMBEDDED_ENTITLEMENTS = 0xFADE7171
CSMAGIC_EMBEDDED_DER_ENTITLEMENTS = 0xFADE7172

# --- slots ---------------------------------------------------------------------
CSSLOT_CODEDIRECTORY = 0
CSSLOT_INFOSLOT = 1
CSSLOT_REQUIREMENTS = 2
CSSLOT_RESOURCEDIR = 3
CSSLOT_APPLICATION = 4
CSSLOT_ENTITLEMENTS = 5
CSSLOT_DER_ENTITLEMENTS = 7
CSSLOT_ALTERNATE_CODEDIRECTORIES = 0x1000
CSSLOT_ALTERNATE_CODEDIRECTORY_MAX = 5
CSSLOT_SIGNATURESLOT = 0x10000

SPECIAL_SLOT_NAMES = {
    1: "Info.plist", 2: "Requirements", 3: "CodeResources", 4: "Application",
    5: "Entitlements", 6: "RepSpecific", 7: "DER entitlements", 8: "Launch constraints (self)",
    9: "Launch constraints (parent)", 10: "Launch constraints (responsible)",
    11: "Library constraints",
}

# --- CodeDirectory flags and constants -------------------------------------------
CS_ADHOC = 0x2
CS_RUNTIME = 0x10000
CS_LINKER_SIGNED = 0x20000
CS_EXECSEG_MAIN_BINARY = 0x1

CS_HASHTYPE_SHA1 = 1
CS_HASHTYPE_SHA256 = 2
CS_HASHTYPE_SHA256_TRUNCATED = 3
CS_HASHTYPE_SHA384 = 4
HASH_TYPES = {  # hashType -> (hashlib name, hashSize)
    CS_HASHTYPE_SHA1: ("sha1", 20),
    CS_HASHTYPE_SHA256: ("sha256", 32),
    CS_HASHTYPE_SHA256_TRUNCATED: ("sha256", 20),
    CS_HASHTYPE_SHA384: ("sha384", 48),
}

@dataclass
class BlobHeader(BinStruct):
    magic: int = on_disk("I", "magic")
    length: int = on_disk("I", "length")


@dataclass
class SuperBlobHeader(BinStruct):
    magic: int = on_disk("I", "magic", CSMAGIC_EMBEDDED_SIGNATURE)
    length: int = on_disk("I", "length")
    count: int = on_disk("I", "count")


@dataclass
class BlobIndex(BinStruct):
    type: int = on_disk("I", "type")
    offset: int = on_disk("I", "offset")


@dataclass
class CodeDirectoryHeader(BinStruct):
    """CS_CodeDirectory with every field up to version 0x20600; each version
    stores the fields up to its own (CD_HEADER_END) and leaves the rest out."""

    magic: int = on_disk("I", "magic", CSMAGIC_CODEDIRECTORY)
    length: int = on_disk("I", "length")
    version: int = on_disk("I", "version", 0x20400)
    flags: int = on_disk("I", "flags")
    hash_offset: int = on_disk("I", "hashOffset")
    ident_offset: int = on_disk("I", "identOffset")
    n_special_slots: int = on_disk("I", "nSpecialSlots")
    n_code_slots: int = on_disk("I", "nCodeSlots")
    code_limit: int = on_disk("I", "codeLimit")
    hash_size: int = on_disk("B", "hashSize")
    hash_type: int = on_disk("B", "hashType")
    platform: int = on_disk("B", "platform")
    page_size: int = on_disk("B", "pageSize")            # log2
    spare2: int = on_disk("I", "spare2")
    scatter_offset: int = on_disk("I", "scatterOffset")  # 0x20100
    team_offset: int = on_disk("I", "teamOffset")        # 0x20200
    spare3: int = on_disk("I", "spare3")                 # 0x20300
    code_limit64: int = on_disk("Q", "codeLimit64")
    exec_seg_base: int = on_disk("Q", "execSegBase")     # 0x20400
    exec_seg_limit: int = on_disk("Q", "execSegLimit")
    exec_seg_flags: int = on_disk("Q", "execSegFlags")
    runtime: int = on_disk("I", "runtime")               # 0x20500
    pre_encrypt_offset: int = on_disk("I", "preEncryptOffset")
    linkage_hash_type: int = on_disk("B", "linkageHashType")      # 0x20600
    linkage_application_type: int = on_disk("B", "linkageApplicationType")
    linkage_application_sub_type: int = on_disk("H", "linkageApplicationSubType")
    linkage_offset: int = on_disk("I", "linkageOffset")
    linkage_size: int = on_disk("I", "linkageSize")


# The last field each CodeDirectory version stores (cs_blobs.h's
# end_earliest, end_withScatter, ... markers).
CD_HEADER_END = (
    (0x20600, "linkage_size"),
    (0x20500, "pre_encrypt_offset"),
    (0x20400, "exec_seg_flags"),
    (0x20300, "code_limit64"),
    (0x20200, "team_offset"),
    (0x20100, "scatter_offset"),
    (0x20001, "spare2"),
)
CD_EARLIEST_VERSION = 0x20001
# Sane bounds against hostile counts: 2**31 pages of 4 KiB is 8 TiB.
MAX_CODE_SLOTS = 1 << 24
MAX_SPECIAL_SLOTS = 64
MAX_SUPERBLOB_COUNT = 64


def cd_header_size(version: int) -> int:
    for since, last in CD_HEADER_END:
        if version >= since:
            return CodeDirectoryHeader.offset_of(last) + next(
                f.size for f in CodeDirectoryHeader.disk_fields() if f.attribute == last)
    return CodeDirectoryHeader.offset_of("scatter_offset")


def _fail(ctx: "BlobContext", where: str, problem: str, offset: int) -> CorruptError:
    return CorruptError(ctx.path, f"{ctx.arch} {where}" if ctx.arch else where, problem,
                        ctx.base + offset)


@dataclass
class BlobContext:
    """Where a blob came from, for error messages: file, arch, file offset."""
    path: str | None = None
    arch: str = ""
    base: int = 0


def blob_header(data: bytes, offset: int, ctx: BlobContext, what: str) -> tuple[int, int]:
    if offset + BlobHeader.struct_size() > len(data):
        raise _fail(ctx, what, "blob header runs past the end", offset)
    header = BlobHeader.parse(data, offset)
    magic, length = header.magic, header.length
    if length < BlobHeader.struct_size() or offset + length > len(data):
        raise _fail(ctx, what + ".length", f"{length} runs past the enclosing blob "
                    f"({len(data) - offset} bytes left)", offset + 4)
    return magic, length


def wrap_blob(magic: int, payload: bytes) -> bytes:
    return BlobHeader(magic, BlobHeader.struct_size() + len(payload)).pack() + payload


# ---------------------------------------------------------------------------------
@dataclass
class SuperBlob:
    """Embedded signature: ordered (slot type, blob bytes) entries."""
    magic: int
    entries: list[tuple[int, bytes]]
    length: int = 0

    @classmethod
    def parse(cls, data: bytes, ctx: BlobContext | None = None) -> "SuperBlob":
        ctx = ctx or BlobContext()
        head_size, index_size = SuperBlobHeader.struct_size(), BlobIndex.struct_size()
        if len(data) < head_size:
            raise _fail(ctx, "SuperBlob", "shorter than a SuperBlob header", 0)
        head = SuperBlobHeader.parse(data)
        magic, length, count = head.magic, head.length, head.count
        if magic not in (CSMAGIC_EMBEDDED_SIGNATURE, CSMAGIC_DETACHED_SIGNATURE):
            raise _fail(ctx, "SuperBlob.magic", f"{magic:#x} is not an embedded signature", 0)
        if length < head_size or length > len(data):
            raise _fail(ctx, "SuperBlob.length", f"{length} exceeds the {len(data)} bytes of "
                        "LC_CODE_SIGNATURE data", 4)
        if count > MAX_SUPERBLOB_COUNT or head_size + count * index_size > length:
            raise _fail(ctx, "SuperBlob.count", f"{count} index entries do not fit", 8)
        body = data[:length]
        entries = []
        for i in range(count):
            pos = head_size + i * index_size
            entry = BlobIndex.parse(body, pos)
            slot, off = entry.type, entry.offset
            if off < head_size + count * index_size:
                raise _fail(ctx, f"SuperBlob index[{i}] (slot {slot:#x}).offset",
                            f"{off} points into the index", pos + 4)
            _magic, blen = blob_header(body, off, ctx, f"blob in slot {slot:#x}")
            entries.append((slot, body[off:off + blen]))
        return cls(magic, entries, length)

    def pack(self, pad_to: int | None = None) -> bytes:
        """Index then blobs, in entry order, as codesign and lld write them."""
        header = SuperBlobHeader.struct_size() + BlobIndex.struct_size() * len(self.entries)
        index = bytearray()
        body = bytearray()
        for slot, blob in self.entries:
            index += BlobIndex(slot, header + len(body)).pack()
            body += blob
        length = header + len(body)
        out = SuperBlobHeader(self.magic, length, len(self.entries)).pack() + index + body
        if pad_to is not None:
            if pad_to < len(out):
                raise ValueError("signature larger than the space reserved for it")
            out += bytes(pad_to - len(out))
        return bytes(out)

    def get(self, slot: int) -> bytes | None:
        for s, blob in self.entries:
            if s == slot:
                return blob
        return None

    def code_directories(self) -> list[tuple[int, bytes]]:
        return [(s, b) for s, b in self.entries
                if s == CSSLOT_CODEDIRECTORY
                or CSSLOT_ALTERNATE_CODEDIRECTORIES <= s < CSSLOT_ALTERNATE_CODEDIRECTORIES
                + CSSLOT_ALTERNATE_CODEDIRECTORY_MAX]


# ---------------------------------------------------------------------------------
@dataclass
class CodeDirectory:
    version: int = 0x20400
    flags: int = 0
    identifier: str = ""
    team_id: str | None = None
    code_limit: int = 0
    hash_type: int = CS_HASHTYPE_SHA256
    platform: int = 0
    page_size_log2: int = 12
    exec_seg_base: int = 0
    exec_seg_limit: int = 0
    exec_seg_flags: int = 0
    runtime: int = 0
    code_hashes: list[bytes] = field(default_factory=list)
    special_hashes: dict[int, bytes] = field(default_factory=dict)   # slot n (positive) -> hash
    n_special_slots: int = 0
    # Bytes of zero padding after the identifier's NUL (lld aligns the
    # headers to 16; codesign writes none).
    ident_pad: int = 0
    raw: bytes = b""

    @property
    def hash_size(self) -> int:
        return HASH_TYPES[self.hash_type][1]

    @property
    def page_size(self) -> int:
        # pageSize 0 means "one page": the whole code limit is hashed at once.
        return 1 << self.page_size_log2 if self.page_size_log2 else max(self.code_limit, 1)

    def hash(self, data: bytes | memoryview) -> bytes:
        name, size = HASH_TYPES[self.hash_type]
        return hashlib.new(name, data).digest()[:size]

    def cdhash(self) -> bytes:
        """The CD hash: the CD blob hashed with its own hash type, truncated to 20."""
        blob = self.raw or self.pack()
        return hashlib.new(HASH_TYPES[self.hash_type][0], blob).digest()[:20]

    @classmethod
    def parse(cls, data: bytes, ctx: BlobContext | None = None) -> "CodeDirectory":
        ctx = ctx or BlobContext()
        magic, length = blob_header(data, 0, ctx, "CodeDirectory")
        if magic != CSMAGIC_CODEDIRECTORY:
            raise _fail(ctx, "CodeDirectory.magic", f"{magic:#x} is not 0xfade0c02", 0)
        blob = data[:length]
        if length < cd_header_size(CD_EARLIEST_VERSION):
            raise _fail(ctx, "CodeDirectory.length", f"{length} is shorter than the header", 4)
        version = CodeDirectoryHeader.parse(blob[:cd_header_size(CD_EARLIEST_VERSION)]
                                            + bytes(CodeDirectoryHeader.struct_size())).version
        if version < CD_EARLIEST_VERSION or version >> 16 != 2:
            raise _fail(ctx, "CodeDirectory.version", f"{version:#x} is not a known version", 8)
        hsize = cd_header_size(version)
        if length < hsize:
            raise _fail(ctx, "CodeDirectory.length", f"{length} is shorter than the "
                        f"{hsize}-byte header of version {version:#x}", 4)
        # Fields past this version's header read as zero.
        h = CodeDirectoryHeader.parse(blob[:hsize] + bytes(CodeDirectoryHeader.struct_size()))
        flags, hash_offset, ident_offset = h.flags, h.hash_offset, h.ident_offset
        n_special, n_code, code_limit = h.n_special_slots, h.n_code_slots, h.code_limit
        hash_size, hash_type, platform, page_log2 = h.hash_size, h.hash_type, h.platform, h.page_size
        if hash_type not in HASH_TYPES:
            raise UnsupportedError(f"{ctx.path}: {ctx.arch} CodeDirectory.hashType {hash_type} "
                                   "is not a known hash")
        if HASH_TYPES[hash_type][1] != hash_size:
            raise _fail(ctx, "CodeDirectory.hashSize", f"{hash_size} does not match hashType "
                        f"{hash_type}", 0x24)
        if n_special > MAX_SPECIAL_SLOTS:
            raise _fail(ctx, "CodeDirectory.nSpecialSlots", f"{n_special} is not sane", 0x18)
        if n_code > MAX_CODE_SLOTS:
            raise _fail(ctx, "CodeDirectory.nCodeSlots", f"{n_code} is not sane", 0x1C)
        if page_log2 > 30:
            raise _fail(ctx, "CodeDirectory.pageSize", f"2**{page_log2} is not sane", 0x27)
        if hash_offset < hsize + n_special * hash_size or \
                hash_offset + n_code * hash_size > length:
            raise _fail(ctx, "CodeDirectory.hashOffset", f"{hash_offset} with {n_special} special "
                        f"and {n_code} code slots does not fit in {length} bytes", 0x10)
        if h.scatter_offset:
            raise UnsupportedError(f"{ctx.path}: {ctx.arch} CodeDirectory: scatter vectors "
                                   "are not supported")
        if h.code_limit64:
            code_limit = h.code_limit64
        ident = _cstring(blob, ident_offset, ctx, "CodeDirectory.identOffset", 0x14, hsize)
        team_offset = h.team_offset
        team = _cstring(blob, team_offset, ctx, "CodeDirectory.teamOffset", 0x30, hsize) \
            if team_offset else None
        # lld pads the identifier to 16-byte alignment; codesign puts the
        # team or the special slots right after it.  Keep it for pack().
        after_ident = ident_offset + len(ident.encode()) + 1
        next_field = team_offset if team_offset else hash_offset - n_special * hash_size
        ident_pad = max(0, next_field - after_ident)
        code_hashes = [blob[hash_offset + i * hash_size:hash_offset + (i + 1) * hash_size]
                       for i in range(n_code)]
        special = {n: blob[hash_offset - n * hash_size:hash_offset - (n - 1) * hash_size]
                   for n in range(1, n_special + 1)}
        return cls(version=version, flags=flags, identifier=ident, team_id=team,
                   code_limit=code_limit, hash_type=hash_type, platform=platform,
                   page_size_log2=page_log2, exec_seg_base=h.exec_seg_base,
                   exec_seg_limit=h.exec_seg_limit, exec_seg_flags=h.exec_seg_flags,
                   runtime=h.runtime,
                   code_hashes=code_hashes, special_hashes=special, n_special_slots=n_special,
                   ident_pad=ident_pad, raw=bytes(blob))

    def pack(self) -> bytes:
        """Header, identifier, team, special slots (highest first), code slots."""
        hsize = cd_header_size(self.version)
        if self.version >= 0x20600:
            raise UnsupportedError("writing CodeDirectory versions above 0x20500")
        ident = self.identifier.encode() + b"\0" + bytes(self.ident_pad)
        team = (self.team_id.encode() + b"\0") if self.team_id is not None else b""
        if team and self.version < 0x20200:
            raise ValueError("a team identifier needs CodeDirectory version 0x20200 or later")
        n_special = max([self.n_special_slots, *self.special_hashes.keys()] or [0])
        hs = self.hash_size
        ident_offset = hsize
        team_offset = hsize + len(ident) if team else 0
        hash_offset = hsize + len(ident) + len(team) + n_special * hs
        specials = b"".join(self.special_hashes.get(n, bytes(hs)) for n in range(n_special, 0, -1))
        body = ident + team + specials + b"".join(self.code_hashes)
        length = hsize + len(body)
        big = self.code_limit > 0xFFFFFFFF
        header = CodeDirectoryHeader(
            length=length, version=self.version, flags=self.flags, hash_offset=hash_offset,
            ident_offset=ident_offset, n_special_slots=n_special,
            n_code_slots=len(self.code_hashes), code_limit=0 if big else self.code_limit,
            hash_size=hs, hash_type=self.hash_type, platform=self.platform,
            page_size=self.page_size_log2, team_offset=team_offset,
            code_limit64=self.code_limit if big else 0, exec_seg_base=self.exec_seg_base,
            exec_seg_limit=self.exec_seg_limit, exec_seg_flags=self.exec_seg_flags,
            runtime=self.runtime)
        return header.pack()[:hsize] + body

    def expected_code_hashes(self, code: bytes | bytearray | memoryview) -> list[bytes]:
        """Hashes of ``code[:code_limit]`` page by page (last page short)."""
        hasher = PageHasher(self)
        hasher.update(memoryview(code)[:self.code_limit])
        return hasher.digests()


class PageHasher:
    """A CodeDirectory's code-slot hashes over bytes fed in pieces of any
    size, up to its codeLimit: each page is hashed as it completes, so
    neither the code nor a page is ever held whole."""

    def __init__(self, cd: CodeDirectory) -> None:
        name, self._size = HASH_TYPES[cd.hash_type]
        self._new = getattr(hashlib, name)
        self._page = cd.page_size
        self._left = cd.code_limit        # bytes still to hash
        self._partial = None              # a page begun in an earlier piece
        self._partial_len = 0
        self._out: list[bytes] = []

    def update(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)[:self._left]
        self._left -= len(view)
        pos = 0
        if self._partial is not None:
            take = min(self._page - self._partial_len, len(view))
            self._partial.update(view[:take])
            self._partial_len += take
            pos = take
            if self._partial_len == self._page:
                self._out.append(self._partial.digest()[:self._size])
                self._partial = None
        page, new, size = self._page, self._new, self._size
        whole = pos + (len(view) - pos) // page * page
        self._out += [new(view[off:off + page]).digest()[:size] for off in range(pos, whole, page)]
        if whole < len(view):
            self._partial = new(view[whole:])
            self._partial_len = len(view) - whole

    def digests(self) -> list[bytes]:
        """The hashes, the last (short) page included; every byte up to
        codeLimit must have been fed."""
        if self._left:
            raise ValueError(f"{self._left} bytes of code were not hashed")
        if self._partial is not None:
            self._out.append(self._partial.digest()[:self._size])
            self._partial = None
        return self._out


def _cstring(blob: bytes, offset: int, ctx: BlobContext, where: str, field_off: int,
             min_offset: int) -> str:
    if offset < min_offset or offset >= len(blob):
        raise _fail(ctx, where, f"{offset} is outside the CodeDirectory", field_off)
    end = blob.find(b"\0", offset)
    if end < 0:
        raise _fail(ctx, where, "string has no terminating NUL", offset)
    try:
        return blob[offset:end].decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(ctx, where, "string is not UTF-8", offset) from None


# ---------------------------------------------------------------------------------
def entitlements_blob(xml: bytes) -> bytes:
    return wrap_blob(CSMAGIC_EMBEDDED_ENTITLEMENTS, xml)


def blob_wrapper(cms_der: bytes) -> bytes:
    return wrap_blob(CSMAGIC_BLOBWRAPPER, cms_der)


def blob_payload(blob: bytes) -> bytes:
    return blob[BlobHeader.struct_size():]


# A Requirements SuperBlob-shaped blob with no entries.
EMPTY_REQUIREMENTS = SuperBlobHeader(CSMAGIC_REQUIREMENTS, 12, 0).pack()
