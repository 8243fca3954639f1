"""Ad-hoc signatures in the exact shape lld writes (``linker-signed``).

lld (lld/MachO/SyntheticSections.cpp, CodeSignatureSection) emits: a
SuperBlob with one index entry, padded to 8 bytes (the CodeDirectory sits
at offset 24, after 4 zero bytes); a version 0x20400 CodeDirectory with
flags adhoc|linker-signed, the output file's base name as identifier padded
so that all headers end on a 16-byte boundary, no special slots, SHA-256 of
4 KiB pages up to the signature, execSeg = __TEXT's file range (flag
MAIN_BINARY for executables).  Nothing outside the signature depends on
the hashes, so re-signing an lld-signed binary reproduces it byte for byte.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..errors import InputError
from ..macho import MH_EXECUTE, MachOSlice, build_universal, parse_slice, read_macho
from . import blobs
from .allocate import allocate, default_dataoff, round_up

PAGE_LOG2 = 12
_BLOB_HEADERS = round_up(blobs.SuperBlobHeader.struct_size() + blobs.BlobIndex.struct_size(), 8)   # 24
_CD_HEADER = blobs.cd_header_size(0x20400)                                     # 88


def adhoc_signature_size(identifier: str, code_limit: int) -> int:
    name = identifier.encode()
    all_headers = round_up(_BLOB_HEADERS + _CD_HEADER + len(name) + 1, 16)
    return all_headers + -(-code_limit // (1 << PAGE_LOG2)) * 32


def build_adhoc_signature(code: bytes | memoryview, identifier: str, exec_seg_base: int, exec_seg_limit: int,
                          main_binary: bool, linker_signed: bool = True) -> bytes:
    """Signature over ``code`` (= the slice up to the signature's offset)."""
    name = identifier.encode()
    all_headers = round_up(_BLOB_HEADERS + _CD_HEADER + len(name) + 1, 16)
    cd = blobs.CodeDirectory(
        version=0x20400, flags=blobs.CS_ADHOC | (blobs.CS_LINKER_SIGNED if linker_signed else 0),
        identifier=identifier, code_limit=len(code), hash_type=blobs.CS_HASHTYPE_SHA256,
        page_size_log2=PAGE_LOG2, exec_seg_base=exec_seg_base, exec_seg_limit=exec_seg_limit,
        exec_seg_flags=blobs.CS_EXECSEG_MAIN_BINARY if main_binary else 0,
        ident_pad=all_headers - _BLOB_HEADERS - _CD_HEADER - len(name) - 1)
    cd.code_hashes = cd.expected_code_hashes(code)
    cd_blob = cd.pack()
    length = _BLOB_HEADERS + len(cd_blob)
    header = blobs.SuperBlobHeader(blobs.CSMAGIC_EMBEDDED_SIGNATURE, length, 1).pack() + \
        blobs.BlobIndex(blobs.CSSLOT_CODEDIRECTORY, _BLOB_HEADERS).pack()
    return header + bytes(_BLOB_HEADERS - len(header)) + cd_blob


def existing_identifier(sl: MachOSlice) -> str | None:
    sig = sl.signature_bytes()
    if not sig or not any(sig):
        return None
    cd = blobs.SuperBlob.parse(sig, blobs.BlobContext(sl.path, sl.arch, sl.file_offset)).get(0)
    return blobs.CodeDirectory.parse(cd).identifier if cd else None


def adhoc_sign_slice(sl: MachOSlice, identifier: str, linker_signed: bool = True) -> bytes:
    """The slice's bytes, ad-hoc signed.  An existing LC_CODE_SIGNATURE of
    the right size is reused in place (lld's layout); otherwise room is made
    as codesign_allocate would."""
    text = sl.segment("__TEXT")
    if text is None:
        raise InputError(f"{sl.path}: {sl.arch}: no __TEXT segment")
    cs = sl.code_signature
    if cs is not None:
        dataoff = cs.dataoff
        size = adhoc_signature_size(identifier, dataoff)
        if size != cs.datasize:
            data = allocate(sl, size, dataoff)
        else:
            data = bytearray(sl.read(0, dataoff + size))
    else:
        dataoff = default_dataoff(sl)
        size = adhoc_signature_size(identifier, dataoff)
        data = allocate(sl, size, dataoff)
    with memoryview(data) as view:
        sig = build_adhoc_signature(view[:dataoff], identifier, text.fileoff, text.filesize,
                                    sl.filetype == MH_EXECUTE, linker_signed)
    assert len(sig) == size
    data[dataoff:dataoff + size] = sig
    return bytes(data)


def adhoc_sign_file(path: str | os.PathLike, out: str | os.PathLike | None = None,
                    identifier: str | None = None, linker_signed: bool = True) -> None:
    """Ad-hoc sign every slice of a Mach-O file (in place unless ``out``)."""
    path = Path(path)
    macho = read_macho(path)
    slices = []
    for sl in macho.slices:
        ident = identifier or existing_identifier(sl) or path.name
        slices.append(adhoc_sign_slice(sl, ident, linker_signed))
    for signed in slices:
        parse_slice(signed, os.fspath(path))      # what we write must parse again
    data = slices[0] if macho.fat is None else build_universal(macho.fat, slices)
    target = Path(out) if out is not None else path
    mode = os.stat(path).st_mode & 0o7777
    atomic_write_bytes(target, data)
    os.chmod(target, mode)
