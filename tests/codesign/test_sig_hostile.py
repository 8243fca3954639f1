"""Hostile signature tarballs, Mach-O headers and signature blobs: refused
with an error naming the member/file, architecture, structure and offset;
never a traceback, never a half-written output."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import REPO, SIGNAPPLE_CORPUS
from pipeline.codesign import blobs
from pipeline.codesign.apply import apply
from pipeline.codesign.detach import signature_members
from pipeline.codesign.verify import verify_slice
from pipeline.errors import CorruptError, InputError, ReprodmgError
from pipeline.macho import parse_macho, read_macho

UNSIGNED = SIGNAPPLE_CORPUS / "unsigned"
SIGNED = SIGNAPPLE_CORPUS / "signed"
EXE = "Contents/MacOS/signapple-test"
SIG_NAME = EXE + ".x86_64sign"


def good_members() -> dict[str, bytes]:
    return signature_members(SIGNED)


def write_tar(path: Path, members: dict[str, bytes], symlinks: dict[str, str] = {}) -> Path:
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in symlinks.items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def refused(tmp_path: Path, members: dict[str, bytes], unsigned: Path = UNSIGNED,
            exc=InputError, symlinks: dict[str, str] = {}) -> str:
    tar = write_tar(tmp_path / "sigs.tar", members, symlinks)
    out = tmp_path / "out.app"
    with pytest.raises(exc) as info:
        apply(unsigned, tar, out)
    assert not out.exists() and not (tmp_path / "out.app.partial").exists()
    return str(info.value)


def test_dotdot_member_is_refused(tmp_path):
    msg = refused(tmp_path, {"../" + SIG_NAME: good_members()[SIG_NAME]})
    assert "member '../Contents/MacOS/signapple-test.x86_64sign'" in msg and "'..'" in msg


def test_absolute_member_is_refused(tmp_path):
    msg = refused(tmp_path, {"/" + SIG_NAME: good_members()[SIG_NAME]})
    assert "absolute path refused" in msg and SIG_NAME in msg


def test_signature_for_missing_file_is_refused(tmp_path):
    msg = refused(tmp_path, {"Contents/MacOS/ghost.x86_64sign": good_members()[SIG_NAME]})
    assert msg.endswith(f"member 'Contents/MacOS/ghost.x86_64sign': Contents/MacOS/ghost does not "
                        f"exist in {UNSIGNED} (or is not a regular file)")


def test_signature_for_wrong_architecture_is_refused(tmp_path):
    msg = refused(tmp_path, {EXE + ".arm64sign": good_members()[SIG_NAME]})
    assert msg.startswith(f"{EXE}.arm64sign: ") and "has no arm64 slice (it has x86_64)" in msg


def test_oversized_signature_is_refused(tmp_path):
    msg = refused(tmp_path, {SIG_NAME: bytes(17 << 20)})
    assert f"member '{SIG_NAME}': 17825792 bytes exceeds" in msg


def test_garbage_signature_names_member_arch_and_structure(tmp_path):
    msg = refused(tmp_path, {SIG_NAME: b"\x00garbage" * 8}, exc=CorruptError)
    assert msg == f"{SIG_NAME}: x86_64 SuperBlob.magic: offset 0x0: 0x676172 is not an " \
                  "embedded signature"


def test_truncated_signature_is_refused(tmp_path):
    sig = good_members()[SIG_NAME]
    msg = refused(tmp_path, {SIG_NAME: sig[:3000]}, exc=CorruptError)
    assert msg.startswith(f"{SIG_NAME}: x86_64 SuperBlob.length: offset 0x4: 6312 exceeds")


def test_signature_at_impossible_offset_is_refused(tmp_path):
    sig = bytearray(good_members()[SIG_NAME])
    struct.pack_into(">I", sig, 44 + 0x20, 0x100)     # CodeDirectory.codeLimit inside __TEXT
    msg = refused(tmp_path, {SIG_NAME: bytes(sig)})
    assert "x86_64: a signature at offset 0x100 does not fit" in msg


def test_signature_far_past_the_end_is_refused_before_allocating(tmp_path):
    import tracemalloc
    sig = bytearray(good_members()[SIG_NAME])
    struct.pack_into(">I", sig, 44 + 0x20, 0x7FFFFFF0)  # CodeDirectory.codeLimit: 2 GiB
    tracemalloc.start()
    try:
        msg = refused(tmp_path, {SIG_NAME: bytes(sig)})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "x86_64: a signature at offset 0x7ffffff0 does not fit: the slice ends at" in msg
    assert peak < 64 << 20, peak


def test_symlink_member_is_refused(tmp_path):
    msg = refused(tmp_path, {}, symlinks={SIG_NAME: "/etc/passwd"})
    assert SIG_NAME in msg and "leaves the destination" in msg


def test_unexpected_member_is_refused(tmp_path):
    msg = refused(tmp_path, {**good_members(), "Contents/Info.plist": b"<plist/>"})
    assert "member 'Contents/Info.plist': not a .<arch>sign signature" in msg


def test_code_resources_for_missing_bundle_is_refused(tmp_path):
    msg = refused(tmp_path, {**good_members(),
                             "Other.app/Contents/_CodeSignature/CodeResources": b"x"})
    assert "member 'Other.app/Contents/_CodeSignature/CodeResources': no such bundle" in msg


def test_signature_through_symlink_in_unsigned_tree_is_refused(tmp_path):
    tree = tmp_path / "unsigned"
    shutil.copytree(UNSIGNED, tree)
    os.chmod(tree / "Contents", 0o755)
    os.symlink("/usr/bin", tree / "Contents/Escape")
    msg = refused(tmp_path, {"Contents/Escape/python3.x86_64sign": good_members()[SIG_NAME]},
                  unsigned=tree)
    assert "Contents/Escape/python3 does not exist" in msg


def test_cli_reports_hostile_tarball_without_traceback(tmp_path):
    tar = write_tar(tmp_path / "sigs.tar", {"../x.x86_64sign": b"x"})
    r = subprocess.run([sys.executable, "-m", "pipeline", "sig", "apply", str(UNSIGNED), str(tar),
                        "-o", str(tmp_path / "o.app")], capture_output=True, text=True,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 2 and "'..' in path refused" in r.stderr
    assert "Traceback" not in r.stderr


# --- hostile Mach-O headers ----------------------------------------------------------

def thin_header(ncmds=0, sizeofcmds=0, extra=b"") -> bytes:
    return struct.pack("<IiiIIIII", 0xFEEDFACF, 0x01000007, 3, 2, ncmds, sizeofcmds, 0, 0) + extra


@pytest.mark.parametrize("data, expected", [
    (struct.pack(">II", 0xCAFEBABE, 40), "fat_arch table: offset 0x8: runs past the end"),
    (struct.pack(">II", 0xCAFEBABE, 0), "fat_header.nfat_arch: offset 0x4: 0 slices"),
    (struct.pack(">II", 0xCAFEBABE, 1) + struct.pack(">iiIII", 0x01000007, 3, 4096, 1 << 30, 12)
     + bytes(100), "fat_arch[0] (x86_64): offset 0x8: slice [0x1000, +0x40000000) is outside"),
    (struct.pack(">II", 0xCAFEBABE, 1) + struct.pack(">iiIII", 0x01000007, 3, 28, 8, 40)
     + bytes(100), "fat_arch[0] (x86_64).align: offset 0x8: 2**40 is not a sane alignment"),
    (struct.pack(">II", 0xCAFEBABE, 2) + struct.pack(">iiIII", 0x01000007, 3, 64, 64, 4)
     + struct.pack(">iiIII", 0x0100000C, 0, 96, 64, 4) + bytes(200),
     "fat_arch table: offset 0x60: slices x86_64 and arm64 overlap"),
    (thin_header(1, 10_000), "x86_64 mach_header.sizeofcmds: offset 0x14: 10000 bytes of load "
                             "commands run past"),
    (thin_header(1, 8, struct.pack("<II", 0x19, 0)), "x86_64 load command 0 cmdsize: offset 0x24: "
                                                     "0 is invalid"),
    (thin_header(5000, 8, bytes(8)), "x86_64 mach_header.ncmds: offset 0x10: 5000 load commands"),
    (thin_header(1, 16, struct.pack("<IIII", 0x1D, 16, 0x10000, 0x10)),
     "x86_64 linkedit_data_command 0x1d.dataoff: offset 0x28: [0x10000, +0x10) runs past"),
    (thin_header(1, 72, struct.pack("<II16sQQQQiiII", 0x19, 72, b"__TEXT", 0, 0, 0, 1 << 40, 5, 5,
                                    0, 0)),
     "x86_64 segment __TEXT.filesize: offset 0x20: [0x0, +0x10000000000) runs past"),
    (thin_header(1, 72, struct.pack("<II16sQQQQiiII", 0x19, 72, b"__TEXT", 0, 0, 0, 0, 5, 5,
                                    1000, 0)),
     "x86_64 segment __TEXT.nsects: offset 0x20: 1000 sections do not fit"),
])
def test_hostile_macho_header_is_refused(data, expected):
    with pytest.raises(CorruptError) as info:
        parse_macho(data, "hostile.bin")
    assert str(info.value).startswith("hostile.bin: " + expected), str(info.value)


@pytest.mark.parametrize("data, size, expected", [
    (thin_header(1, 16, struct.pack("<IIII", 0x1D, 16, 0x1000, 65 << 20)), 80 << 20,
     "x86_64 LC_CODE_SIGNATURE.datasize: offset 0x2c: 68157440 bytes is larger than any code "
     "signature"),
    (thin_header(1, 17 << 20), 20 << 20, "x86_64 mach_header.sizeofcmds: offset 0x14: 17825792 "
                                         "bytes of load commands is not sane"),
])
def test_hostile_sizes_in_a_large_file_are_refused_before_reading(tmp_path, data, size, expected):
    # read_macho reads headers only: a sparse file of tens of MiB whose
    # header asks for a huge signature or load-command area is refused
    # from the header, before any of that is read.
    path = tmp_path / "hostile.bin"
    with open(path, "wb") as fh:
        fh.write(data)
        fh.truncate(size)
    with pytest.raises(CorruptError) as info:
        read_macho(path)
    assert str(info.value).startswith(f"{path}: " + expected), str(info.value)


# --- hostile signature blobs ----------------------------------------------------------

def corpus_cd() -> bytes:
    sl = read_macho(SIGNED / EXE).slices[0]
    return blobs.SuperBlob.parse(sl.signature_bytes()).get(0)


@pytest.mark.parametrize("field_offset, value, expected", [
    (0x10, 0xFFFFFF00, "CodeDirectory.hashOffset"),
    (0x14, 0x7FFFFFFF, "CodeDirectory.identOffset"),
    (0x18, 1000, "CodeDirectory.nSpecialSlots"),
    (0x1C, 0x7FFFFFFF, "CodeDirectory.nCodeSlots"),
    (0x04, 0x7FFFFFFF, "CodeDirectory.length"),
    (0x08, 0x10000, "CodeDirectory.version"),
])
def test_hostile_code_directory_field_is_named(field_offset, value, expected):
    cd = bytearray(corpus_cd())
    struct.pack_into(">I", cd, field_offset, value)
    with pytest.raises(CorruptError) as info:
        blobs.CodeDirectory.parse(bytes(cd), blobs.BlobContext("sig.bin", "x86_64", 0x13380 + 44))
    assert str(info.value).startswith(f"sig.bin: x86_64 {expected}: offset 0x"), str(info.value)


def test_superblob_index_pointing_outside_is_named():
    sig = bytearray(read_macho(SIGNED / EXE).slices[0].signature_bytes())
    struct.pack_into(">I", sig, 12 + 8 + 4, 0x7FFFFFF0)     # index[1].offset
    with pytest.raises(CorruptError) as info:
        blobs.SuperBlob.parse(bytes(sig), blobs.BlobContext("f", "x86_64", 0))
    assert "blob in slot 0x2" in str(info.value)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 98287), st.integers(0, 255)), min_size=1, max_size=8),
       st.sampled_from([0, 4096, 78720]))
def test_mutated_signed_binary_never_escapes_the_error_family(mutations, region):
    data = bytearray((SIGNED / EXE).read_bytes())
    for pos, byte in mutations:
        # concentrate half the mutations on the headers and the signature
        target = pos if pos % 2 else (region + pos % 4096) % len(data)
        data[target] = byte
    try:
        macho = parse_macho(bytes(data), "fuzz.bin")
    except ReprodmgError:
        return
    for sl in macho.slices:
        try:
            verify_slice(sl)
        except ReprodmgError:
            pass


RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")


@pytest.mark.parametrize("nth", range(4))
def test_unknown_algorithm_oid_in_the_cms_is_a_failure_not_a_crash(nth):
    # Each certificate's subjectPublicKeyInfo names rsaEncryption; an OID
    # cryptography does not know (1.38.840...) made it raise UnsupportedAlgorithm.
    # The fourth is the SignerInfo's signatureAlgorithm, which the signature
    # does not cover: an unknown algorithm there was accepted.
    data = bytearray((SIGNED / EXE).read_bytes())
    sl = parse_macho(bytes(data), "x").slices[0]
    start = sl.code_signature.dataoff
    hits = []
    pos = data.find(RSA_ENCRYPTION_OID, start)
    while pos >= 0:
        hits.append(pos)
        pos = data.find(RSA_ENCRYPTION_OID, pos + 1)
    assert len(hits) == 4             # WWDR CA, Apple Root CA, leaf, SignerInfo
    data[hits[nth] + 2] = 0x4E
    rep = verify_slice(parse_macho(bytes(data), "mutated").slices[0],
                       (SIGNED / "Contents/Info.plist").read_bytes(),
                       (SIGNED / "Contents/_CodeSignature/CodeResources").read_bytes(),
                       apple_root=True)
    # (Damage inside Apple Root CA changes its pinned fingerprint instead.)
    expected = ("public key cannot be used", "is not signed by", "does not fit the",
                "do not include Apple Root CA")
    assert not rep.ok
    assert len(rep.failures) == 1 and any(e in rep.failures[0] for e in expected), rep.failures


def test_malformed_code_resources_rules_are_failures_not_crashes(tmp_path):
    import plistlib

    from pipeline.codesign.coderesources import check_code_resources
    from pipeline.codesign.verify import verify_path
    contents = tmp_path / "Contents"
    (contents / "Frameworks" / "X.framework").mkdir(parents=True)
    (contents / "a.txt").write_bytes(b"a")

    def check(plist: dict) -> list[str]:
        return check_code_resources(contents, plistlib.dumps(plist), None, lambda p: {b"h"},
                                    "CR.plist")
    with pytest.raises(CorruptError, match=r"CR.plist: CodeResources rule '\^'.weight: 'x'"):
        check({"files2": {}, "rules2": {"^": {"weight": "x"}}})
    with pytest.raises(CorruptError, match=r"CR.plist: CodeResources rule '\(': not a rule pattern: at offset 1: unclosed group"):
        check({"files2": {}, "rules2": {"(": True}})
    # A cdhash that is not data (here a list) was hashed into a set lookup.
    assert check({"files2": {"a.txt": {"hash2": b""},
                             "Frameworks/X.framework": {"cdhash": [b"h"]}},
                  "rules2": {"^": True, "^Frameworks/": {"nested": True, "weight": 10}}}) == [
        "Frameworks/X.framework: modified", "a.txt: modified"]
    # Through `sig verify`: one failure line naming the file.
    app = tmp_path / "app"
    shutil.copytree(SIGNED, app)
    res = app / "Contents/_CodeSignature/CodeResources"
    plist = plistlib.loads(res.read_bytes())
    plist["rules2"]["^Resources/"] = {"weight": {"not": "a number"}}
    res.write_bytes(plistlib.dumps(plist))
    report = verify_path(app)
    assert any("CodeResources rule '^Resources/'.weight" in f and str(res) in f
               for f in report.failures), report.failures


def test_verify_text_escapes_control_characters_in_identifiers(tmp_path, capsys):
    from pipeline.cli import main
    # The identifier is a C string inside the CodeDirectory: patch one of its
    # letters into ESC (the page hashes no longer matter: verify reports).
    app = tmp_path / "app"
    shutil.copytree(SIGNED, app)
    exe = app / EXE
    data = bytearray(exe.read_bytes())
    pos = data.find(b"com.achow101.signapple-test\0")
    data[pos + 3] = 0x1B
    exe.write_bytes(data)
    assert main(["sig", "verify", str(app)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "identifier com\\x1bachow101.signapple-test" in out


def test_an_over_long_executable_name_is_one_error(tmp_path):
    # Issue 18: CFBundleExecutable longer than any file name made `sig
    # verify` die with OSError ENAMETOOLONG.
    import plistlib
    app = tmp_path / "Long.app"
    shutil.copytree(SIGNED, app)
    info = app / "Contents" / "Info.plist"
    plist = plistlib.loads(info.read_bytes())
    plist["CFBundleExecutable"] = "x" * 1000
    info.write_bytes(plistlib.dumps(plist))
    proc = subprocess.run([sys.executable, "-m", "pipeline", "sig", "verify", str(app)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "Info.plist CFBundleExecutable" in proc.stderr and "longer than 255 bytes" in proc.stderr


def test_file_system_errors_on_input_paths_are_one_line(tmp_path):
    long_path = tmp_path / ("y" * 300) / "x.dmg"
    for argv in (["dmg", "info", str(long_path)], ["sig", "verify", str(long_path)],
                 ["dmg", "ls", str(long_path)]):
        proc = subprocess.run([sys.executable, "-m", "pipeline", *argv], capture_output=True,
                              text=True, cwd=REPO)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (argv, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "yyyy" in proc.stderr
