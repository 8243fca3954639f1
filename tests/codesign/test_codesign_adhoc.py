"""Ad-hoc signing against lld's own linker-signed output (the oracle):
re-signing must reproduce ld64.lld-19's bytes exactly."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from helpers import require_tool
from pipeline.codesign import blobs
from pipeline.codesign.adhoc import adhoc_sign_file
from pipeline.codesign.verify import verify_path
from pipeline.macho import read_macho
from macho_builder import assert_matches_otool


def zero_signature(path, out):
    """A copy of ``path`` with every signature's bytes zeroed (layout kept)."""
    data = bytearray(path.read_bytes())
    for sl in read_macho(path).slices:
        cs = sl.code_signature
        start = sl.file_offset + cs.dataoff
        data[start:start + cs.datasize] = bytes(cs.datasize)
    out.write_bytes(data)
    return out


@pytest.mark.parametrize("name", ["a", "hello", "exactly-16-chars", "a-rather-longer-output-name-x"])
def test_resigning_lld_arm64_executable_is_byte_identical(builder, tmp_path, name):
    linked = builder.link("arm64", f"exe/{name}")
    blank = zero_signature(linked, tmp_path / name)
    adhoc_sign_file(blank)                 # identifier: lld's = the file name
    assert blank.read_bytes() == linked.read_bytes()


def test_resigning_lld_arm64_dylib_is_byte_identical(builder, tmp_path):
    linked = builder.link("arm64", "libsigned.dylib", dylib=True)
    cd = blobs.CodeDirectory.parse(blobs.SuperBlob.parse(read_macho(linked).slices[0]
                                                 .signature_bytes()).get(0))
    assert cd.exec_seg_flags == 0 and cd.flags == blobs.CS_ADHOC | blobs.CS_LINKER_SIGNED
    blank = zero_signature(linked, tmp_path / "libsigned.dylib")
    adhoc_sign_file(blank)
    assert blank.read_bytes() == linked.read_bytes()


def test_resigning_lld_x86_64_adhoc_codesign_is_byte_identical(builder, tmp_path):
    linked = builder.link("x86_64", "exe-x86/hello", "-adhoc_codesign")
    out = tmp_path / "resigned"
    adhoc_sign_file(linked, out=out)
    assert out.read_bytes() == linked.read_bytes()


def test_resigning_universal_of_lld_slices_is_byte_identical(builder, tmp_path):
    uni = builder.lipo("adhoc-uni", builder.link("x86_64", "u-x/hello", "-adhoc_codesign"),
                       builder.link("arm64", "u-a/hello"))
    blank = zero_signature(uni, tmp_path / "hello")
    adhoc_sign_file(blank)
    assert blank.read_bytes() == uni.read_bytes()


def test_adhoc_signing_unsigned_binary_allocates_and_verifies(builder, tmp_path):
    unsigned = builder.link("x86_64", "plain-x86/hello")
    assert read_macho(unsigned).slices[0].code_signature is None
    out = tmp_path / "hello"
    adhoc_sign_file(unsigned, out=out)
    assert_matches_otool(out)
    report = verify_path(out)
    assert report.ok, report.failures
    (sl,) = report.files[0].slices
    assert (sl.kind, sl.identifier) == ("linker-signed", "hello")
    macho = read_macho(out).slices[0]
    assert macho.code_signature.dataoff % 16 == 0
    linkedit = macho.segment("__LINKEDIT")
    # codesign_allocate: filesize ends at the signature, vmsize page-rounded (x86_64: 4 KiB)
    assert linkedit.fileoff + linkedit.filesize == macho.size
    assert linkedit.vmsize % 0x1000 == 0 and linkedit.vmsize >= linkedit.filesize
    require_tool("llvm-objdump-19")
    subprocess.run(["llvm-objdump-19", "--macho", "-d", str(out)], check=True, capture_output=True)


def test_flipped_byte_in_lld_binary_names_the_page(builder, tmp_path):
    out = tmp_path / "hello"
    shutil.copy(builder.link("arm64", "flip/hello"), out)
    data = bytearray(out.read_bytes())
    data[0x4000 + 3] ^= 1                  # a byte on page 4
    out.write_bytes(data)
    assert verify_path(out).failures == \
        ["hello (arm64): CodeDirectory: code page 4 (offset 0x4000) hash mismatch"]


def test_a_signature_whose_size_is_not_a_multiple_of_4_round_trips(builder, tmp_path):
    # Go's linker and Apple's ld64-820 make LC_CODE_SIGNATURE's datasize the
    # SuperBlob's exact length, which need not be a multiple of 4 (82226
    # bytes in a real binary).  The signer's bytes must go back unchanged.
    from pipeline.codesign import apply, detach, verify_path
    from pipeline.codesign.allocate import allocate, default_dataoff
    unsigned = builder.link("x86_64", "odd/tool")       # lld signs only arm64 by default
    sl = read_macho(unsigned).slices[0]
    assert sl.code_signature is None
    text = sl.segment("__TEXT")
    dataoff = default_dataoff(sl)
    slots = -(-dataoff // 4096)
    headers = blobs.SuperBlobHeader.struct_size() + blobs.BlobIndex.struct_size()
    ident = next("t" * k for k in range(1, 8)
                 if (headers + blobs.cd_header_size(0x20400) + k + 1 + 32 * slots) % 4 == 2)
    size = headers + blobs.cd_header_size(0x20400) + len(ident) + 1 + 32 * slots
    out = allocate(sl, size, dataoff)
    cd = blobs.CodeDirectory(version=0x20400, flags=blobs.CS_ADHOC, identifier=ident,
                             code_limit=dataoff, hash_type=blobs.CS_HASHTYPE_SHA256,
                             page_size_log2=12, exec_seg_base=text.fileoff,
                             exec_seg_limit=text.filesize,
                             exec_seg_flags=blobs.CS_EXECSEG_MAIN_BINARY)
    cd.code_hashes = cd.expected_code_hashes(bytes(out[:dataoff]))
    sig = blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE,
                          [(blobs.CSSLOT_CODEDIRECTORY, cd.pack())]).pack()
    assert len(sig) == size and size % 4 == 2
    out[dataoff:dataoff + size] = sig
    signed = tmp_path / "signed" / "tool"
    signed.parent.mkdir()
    signed.write_bytes(out)
    assert verify_path(signed).ok
    detach(signed, tmp_path / "sigs.tar")
    apply(unsigned, tmp_path / "sigs.tar", tmp_path / "applied" / "tool")
    assert (tmp_path / "applied" / "tool").read_bytes() == signed.read_bytes()


def test_leftover_bytes_after_the_load_commands_are_named_as_such(builder, tmp_path):
    # A tool that strips a signature may leave the old LC_CODE_SIGNATURE's
    # bytes behind: the room is there, but not free.
    from pipeline.errors import InputError
    unsigned = builder.link("x86_64", "leftover/tool")
    sl = read_macho(unsigned).slices[0]
    end = sl.header_size + sl.sizeofcmds
    assert sl.first_section_offset() - end >= 16
    data = bytearray(unsigned.read_bytes())
    data[end:end + 16] = bytes.fromhex("1d000000100000000040000010020000")
    dirty = tmp_path / "dirty"
    dirty.write_bytes(data)
    with pytest.raises(InputError) as info:
        adhoc_sign_file(dirty)
    message = str(info.value)
    assert "not free" in message and "leftover" in message and f"{end:#x}" in message
    assert "no room" not in message


def test_a_nested_seal_matches_any_code_directory_of_the_nested_code(builder, tmp_path):
    # Developer ID frameworks carry a SHA-1 primary CodeDirectory and a
    # SHA-256 alternate (slot 0x1000); the outer CodeResources records the
    # SHA-256 one's cdhash, so every CodeDirectory must be offered.
    from pipeline.codesign.allocate import allocate, default_dataoff
    from pipeline.codesign.verify import nested_cdhashes, verify_path
    dylib = builder.link("x86_64", "twocd/libtwo.dylib", dylib=True)
    sl = read_macho(dylib).slices[0]
    text = sl.segment("__TEXT")
    dataoff = default_dataoff(sl)

    def cd(hash_type: int) -> blobs.CodeDirectory:
        return blobs.CodeDirectory(version=0x20400, flags=blobs.CS_ADHOC, identifier="libtwo",
                                   code_limit=dataoff, hash_type=hash_type, page_size_log2=12,
                                   exec_seg_base=text.fileoff, exec_seg_limit=text.filesize)
    sha1, sha256 = cd(blobs.CS_HASHTYPE_SHA1), cd(blobs.CS_HASHTYPE_SHA256)
    slots = -(-dataoff // 4096)
    sha1.code_hashes, sha256.code_hashes = [bytes(20)] * slots, [bytes(32)] * slots

    def superblob() -> bytes:
        return blobs.SuperBlob(blobs.CSMAGIC_EMBEDDED_SIGNATURE,
                               [(blobs.CSSLOT_CODEDIRECTORY, sha1.pack()),
                                (blobs.CSSLOT_ALTERNATE_CODEDIRECTORIES, sha256.pack())]).pack()
    size = len(superblob())
    out = allocate(sl, size, dataoff)
    sha1.code_hashes = sha1.expected_code_hashes(bytes(out[:dataoff]))
    sha256.code_hashes = sha256.expected_code_hashes(bytes(out[:dataoff]))
    out[dataoff:dataoff + size] = superblob()
    signed = tmp_path / "libtwo.dylib"
    signed.write_bytes(out)
    assert verify_path(signed).ok
    assert nested_cdhashes(signed) == {sha1.cdhash(), sha256.cdhash()}
