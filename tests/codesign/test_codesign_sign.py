"""The portable signer, with a self-signed identity made in the test.

Oracles: openssl cms -verify for the CMS signature (with the CodeDirectory
as detached content and the self-signed certificate as trust anchor);
llvm-lipo / llvm-otool / llvm-objdump for the Mach-O layout after signing
and re-attaching; the corpus's Apple-made signature for blob shapes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from helpers import SIGNAPPLE_CORPUS, require_tool
from pipeline.codesign import blobs
from pipeline.codesign.apply import apply
from pipeline.codesign.detach import detach
from pipeline.codesign.sign import sign_app
from pipeline.codesign.verify import verify_path
from pipeline.errors import InputError
from pipeline.macho import read_macho
from signing_identity import make_identity
from macho_builder import assert_matches_otool

PASSWORD = b"correct horse"


@pytest.fixture(scope="session")
def identity(tmp_path_factory):
    return make_identity(tmp_path_factory.mktemp("identity"), PASSWORD,
                         common_name="reprodmg test signer", team="TEAMID1234", serial=0x1234,
                         key_usage=True)


def make_app(builder, root: Path, universal: bool = True) -> Path:
    """An unsigned .app: universal main executable (arm64 slice linker-signed
    by lld, x86_64 slice without LC_CODE_SIGNATURE), a nested dylib,
    resources and a symlink."""
    app = root / "Hello.app"
    (app / "Contents/MacOS").mkdir(parents=True)
    (app / "Contents/Resources/en.lproj").mkdir(parents=True)
    (app / "Contents/Frameworks").mkdir(parents=True)
    arm = builder.link("arm64", "app-arm64/Hello")
    exe = builder.lipo("app-uni-Hello", builder.link("x86_64", "app-x86/Hello"), arm) \
        if universal else arm
    shutil.copy(exe, app / "Contents/MacOS/Hello")
    shutil.copy(builder.link("arm64", "libhelper.dylib", dylib=True),
                app / "Contents/Frameworks/libhelper.dylib")
    (app / "Contents/Info.plist").write_bytes(plistlib.dumps({
        "CFBundleExecutable": "Hello", "CFBundleIdentifier": "org.example.hello",
        "CFBundlePackageType": "APPL"}))
    (app / "Contents/PkgInfo").write_bytes(b"APPL????")
    (app / "Contents/Resources/data.txt").write_bytes(b"payload\n")
    (app / "Contents/Resources/en.lproj/Strings.strings").write_bytes(b'"a" = "b";\n')
    os.symlink("data.txt", app / "Contents/Resources/alias.txt")
    return app


def tree(root: Path) -> dict[str, object]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            out[rel] = ("link", os.readlink(p)) if p.is_symlink() else p.read_bytes()
    return out


def test_sign_detach_apply_universal_app_round_trip(builder, identity, tmp_path, monkeypatch):
    p12, _pem = identity
    unsigned = make_app(builder, tmp_path / "unsigned")
    signed = tmp_path / "signed" / "Hello.app"
    shutil.copytree(unsigned, signed, symlinks=True)
    sign_app(signed, p12, PASSWORD, hardened_runtime=True, epoch=1700000000)
    report = verify_path(signed)
    assert report.ok, report.failures
    assert sorted(f.path for f in report.files) == ["Contents/Frameworks/libhelper.dylib",
                                                    "Contents/MacOS/Hello"]
    main = report.files[1]
    assert [(s.arch, s.kind, s.identifier, s.team_id, s.cd_version) for s in main.slices] == [
        ("x86_64", "cms", "org.example.hello", "TEAMID1234", "0x20500"),
        ("arm64", "cms", "org.example.hello", "TEAMID1234", "0x20500")]

    detach(signed, tmp_path / "sigs.tar")
    apply(unsigned, tmp_path / "sigs.tar", tmp_path / "out" / "Hello.app")
    assert tree(tmp_path / "out" / "Hello.app") == tree(signed)

    exe = tmp_path / "out/Hello.app/Contents/MacOS/Hello"
    info = subprocess.run([require_tool("llvm-lipo-19"), "-info", str(exe)], check=True,
                          capture_output=True, text=True).stdout
    assert "x86_64 arm64" in info
    assert_matches_otool(exe)
    subprocess.run([require_tool("llvm-otool-19"), "-l", str(exe)], check=True, capture_output=True)
    macho = read_macho(exe)
    for arch, sl in zip(macho.fat.archs, macho.slices):
        assert arch.offset % (1 << arch.align) == 0
        assert sl.code_signature.dataoff % 16 == 0
        linkedit = sl.segment("__LINKEDIT")
        assert linkedit.fileoff + linkedit.filesize == arch.size
        assert linkedit.vmsize >= linkedit.filesize
    # arm64 grew past lld's unrounded vmsize: codesign_allocate rounds to 16 KiB
    assert macho.slices[1].segment("__LINKEDIT").vmsize % 0x4000 == 0
    assert macho.slices[0].segment("__LINKEDIT").vmsize % 0x1000 == 0
    for arch in ("x86_64", "arm64"):
        subprocess.run([require_tool("llvm-objdump-19"), "--macho", "-d", f"--arch={arch}",
                        str(exe)], check=True, capture_output=True)


def test_cms_verifies_with_openssl(builder, identity, tmp_path):
    p12, pem = identity
    app = make_app(builder, tmp_path, universal=False)
    sign_app(app, p12, PASSWORD)
    sl = read_macho(app / "Contents/MacOS/Hello").slices[0]
    sb = blobs.SuperBlob.parse(sl.signature_bytes())
    (tmp_path / "cd.bin").write_bytes(sb.get(0))
    (tmp_path / "cms.der").write_bytes(blobs.blob_payload(sb.get(0x10000)))
    r = subprocess.run([require_tool("openssl"), "cms", "-verify", "-inform", "DER",
                        "-in", str(tmp_path / "cms.der"), "-content", str(tmp_path / "cd.bin"),
                        "-binary", "-CAfile", str(pem), "-purpose", "any",
                        "-out", os.devnull], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Verification successful" in r.stderr
    # ...and tampering with the CodeDirectory is caught by openssl too
    cd = bytearray(sb.get(0))
    cd[-1] ^= 1
    (tmp_path / "cd.bin").write_bytes(cd)
    r = subprocess.run([require_tool("openssl"), "cms", "-verify", "-inform", "DER",
                        "-in", str(tmp_path / "cms.der"), "-content", str(tmp_path / "cd.bin"),
                        "-binary", "-CAfile", str(pem), "-purpose", "any",
                        "-out", os.devnull], capture_output=True, text=True)
    assert r.returncode != 0


def test_signed_shape_matches_apple_corpus(identity, tmp_path):
    """Signing the corpus's unsigned app gives the blob layout codesign gave
    the signed one: same slots, CD version, flags, special slots, and the
    same CodeResources."""
    p12, _pem = identity
    app = tmp_path / "app"
    shutil.copytree(SIGNAPPLE_CORPUS / "unsigned", app)
    for dirpath, _d, files in os.walk(app):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(Path(dirpath) / f, 0o755)
    ent = SIGNAPPLE_CORPUS / "signed/Contents/MacOS/signapple-test"
    apple = blobs.SuperBlob.parse(read_macho(ent).slices[0].signature_bytes())
    (tmp_path / "ent.plist").write_bytes(blobs.blob_payload(apple.get(5)))
    sign_app(app, p12, PASSWORD, hardened_runtime=True, entitlements=tmp_path / "ent.plist")
    ours = blobs.SuperBlob.parse(read_macho(app / "Contents/MacOS/signapple-test").slices[0]
                             .signature_bytes())
    assert [s for s, _ in ours.entries] == [s for s, _ in apple.entries]
    assert ours.get(5) == apple.get(5)
    a_cd, o_cd = blobs.CodeDirectory.parse(apple.get(0)), blobs.CodeDirectory.parse(ours.get(0))
    for field in ("version", "flags", "identifier", "code_limit", "hash_type", "page_size_log2",
                  "runtime", "n_special_slots"):
        assert getattr(o_cd, field) == getattr(a_cd, field), field
    # page 0 holds LC_CODE_SIGNATURE.datasize and __LINKEDIT.filesize, which
    # differ with the signature's size (no timestamp, shorter chain)
    assert o_cd.code_hashes[1:] == a_cd.code_hashes[1:]
    for slot in (1, 3, 5):        # Info.plist, CodeResources, entitlements: same files
        assert o_cd.special_hashes[slot] == a_cd.special_hashes[slot]
    assert (app / "Contents/_CodeSignature/CodeResources").read_bytes() == \
        (SIGNAPPLE_CORPUS / "signed/Contents/_CodeSignature/CodeResources").read_bytes()
    assert verify_path(app).ok


def test_signing_is_reproducible_across_dirs_umask_and_tz(builder, identity, tmp_path,
                                                          monkeypatch):
    p12, _pem = identity
    a = make_app(builder, tmp_path / "one")
    sign_app(a, p12, PASSWORD, epoch=1600000000)
    old = os.umask(0o027)
    try:
        monkeypatch.setenv("TZ", "America/St_Johns")
        monkeypatch.setenv("LC_ALL", "C")
        b = make_app(builder, tmp_path / "two" / "deeper")
        sign_app(b, p12, PASSWORD, epoch=1600000000)
    finally:
        os.umask(old)
    assert tree(a) == tree(b)
    detach(a, tmp_path / "a.tar")
    detach(b, tmp_path / "b.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_signing_time_comes_from_the_epoch(builder, identity, tmp_path, monkeypatch):
    p12, _pem = identity
    # The library takes the epoch as an argument: the environment plays no part there.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1")
    app = make_app(builder, tmp_path, universal=False)
    sign_app(app, p12, PASSWORD, epoch=1234567890)
    (sl,) = verify_path(app).files[1].slices
    assert sl.signing_time == "2009-02-13T23:31:30+00:00"


def test_wrong_password_is_a_clear_error(builder, identity, tmp_path):
    p12, _pem = identity
    app = make_app(builder, tmp_path, universal=False)
    with pytest.raises(InputError, match="not a PKCS#12 file, or wrong password"):
        sign_app(app, p12, b"wrong")


def test_cli_sign_reads_password_from_env(builder, identity, tmp_path):
    p12, _pem = identity
    app = make_app(builder, tmp_path, universal=False)
    env = dict(os.environ, REPRODMG_P12_PASSWORD=PASSWORD.decode(), SOURCE_DATE_EPOCH="0")
    r = subprocess.run([sys.executable, "-m", "pipeline", "sig", "sign", str(app), "--p12", str(p12),
                        "--identifier", "org.example.cli", "--hardened-runtime"],
                       capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr
    assert "identifier org.example.cli" in r.stdout
    env.pop("REPRODMG_P12_PASSWORD")
    r = subprocess.run([sys.executable, "-m", "pipeline", "sig", "sign", str(app), "--p12", str(p12)],
                       capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 2 and "wrong password" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "pw.txt").write_text(PASSWORD.decode() + "\n")
    env["SOURCE_DATE_EPOCH"] = "1234567890"     # the command line resolves it for the signer
    r = subprocess.run([sys.executable, "-m", "pipeline", "sig", "sign", str(app), "--p12", str(p12),
                        "--password-file", str(tmp_path / "pw.txt"), "--json"],
                       capture_output=True, text=True, env=env,
                       cwd=Path(__file__).resolve().parents[2])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"][1]["slices"][0]["identifier"] == "org.example.hello"
    assert json.loads(r.stdout)["files"][1]["slices"][0]["signing_time"] == \
        "2009-02-13T23:31:30+00:00"


def test_single_universal_file_detach_apply_round_trip(builder, identity, tmp_path):
    """A bare Mach-O (no bundle): members are named <file>.<arch>sign."""
    p12, _pem = identity
    unsigned = builder.lipo("single-uni", builder.link("x86_64", "single-x86/tool"),
                            builder.link("arm64", "single-arm/tool"))
    signed = tmp_path / "tool"
    shutil.copy(unsigned, signed)
    sign_app(signed, p12, PASSWORD, identifier="org.example.tool")
    detach(signed, tmp_path / "sigs.tar")
    from pipeline.tarball import read_members
    assert sorted(read_members(tmp_path / "sigs.tar")) == ["tool.arm64sign", "tool.x86_64sign"]
    apply(unsigned, tmp_path / "sigs.tar", tmp_path / "out" / "tool")
    assert (tmp_path / "out" / "tool").read_bytes() == signed.read_bytes()


def test_ed25519_identity_is_refused_naming_the_p12(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ed25519
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ed25519 signer")])
    now = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, None))
    p12 = tmp_path / "ed.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"ed", key, cert, None, serialization.NoEncryption()))
    app = tmp_path / "app"
    shutil.copytree(SIGNAPPLE_CORPUS / "unsigned", app)
    with pytest.raises(InputError, match=r"ed.p12: a Ed25519PrivateKey; only RSA and EC"):
        sign_app(app, p12, None)


def test_mach_o_files_sealed_as_data_are_checked_by_their_hash(builder, identity, tmp_path):
    # Apps ship Mach-O files the outer CodeResources seals as plain data (a
    # `hash2` entry, not nested code): an old PowerPC template, helper tools
    # that were never signed.  They are verified by their hash, and the
    # signer can still export the app's signatures.
    import hashlib
    from pipeline.codesign import Identity, sign_file
    p12, _pem = identity
    app = make_app(builder, tmp_path / "u", universal=False)
    sign_app(app, p12, PASSWORD, epoch=1700000000)
    contents = app / "Contents"
    (contents / "bin").mkdir()
    shutil.copy(builder.link("x86_64", "data-helper/helper"), contents / "bin/helper")
    (contents / "share").mkdir()
    (contents / "share/template.ppc").write_bytes(b"\xfe\xed\xfa\xce" + bytes(4092))
    seal = contents / "_CodeSignature/CodeResources"
    plist = plistlib.loads(seal.read_bytes())
    for rel in ("bin/helper", "share/template.ppc"):
        plist["files2"][rel] = {"hash2": hashlib.sha256((contents / rel).read_bytes()).digest()}
    seal.write_bytes(plistlib.dumps(plist))
    sign_file(contents / "MacOS/Hello", Identity.from_p12(p12, PASSWORD), "org.example.hello",
              info_plist=(contents / "Info.plist").read_bytes(), code_resources=seal.read_bytes(),
              epoch=1700000000)
    report = verify_path(app)
    assert report.ok, report.failures
    assert sorted(f.path for f in report.files) == ["Contents/Frameworks/libhelper.dylib",
                                                    "Contents/MacOS/Hello"]
    detach(app, tmp_path / "sigs.tar")
    from pipeline.tarball import read_members
    names = sorted(read_members(tmp_path / "sigs.tar"))
    assert not any(n.startswith(("Contents/bin/", "Contents/share/")) for n in names), names
    # Tampering with a file sealed as data is caught by its hash.
    (contents / "share/template.ppc").write_bytes(b"\xfe\xed\xfa\xce" + bytes(4091) + b"x")
    assert "share/template.ppc: modified" in " ".join(verify_path(app).failures)
