"""Nested code signing, inside out (issue 11 §3): an app with a versioned
framework, a plug-in bundle, a helper and a loose dylib, linked here by
clang-19 + ld64.lld-19.

Oracles: openssl cms -verify on every nested item's CMS signature (the
CodeDirectory as detached content, the test's self-signed root as anchor);
llvm-otool for the Mach-O layout of every signed file; the rule sets and
seal shapes of Apple's codesign as recorded in the corpus's CodeResources.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from helpers import SIGNAPPLE_CORPUS, require_tool
from macho_builder import assert_matches_otool
from nested_app import make_nested_app
from pipeline.codesign import blobs
from pipeline.codesign.apply import apply
from pipeline.codesign.detach import detach, signature_members
from pipeline.codesign.nested import signing_order
from pipeline.codesign.sign import ItemOptions, sign_app
from pipeline.codesign.verify import verify_path
from pipeline.errors import InputError
from pipeline.macho import read_macho
from signing_identity import make_identity

PASSWORD = b"nested"
EPOCH = 1735689600


class _Signer:
    def __init__(self, p12: Path, pem: Path) -> None:
        self.p12, self.root_pem = p12, pem
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        self.root_sha1_hex = cert.fingerprint(hashes.SHA1()).hex()


@pytest.fixture(scope="module")
def identity(tmp_path_factory) -> _Signer:
    return _Signer(*make_identity(tmp_path_factory.mktemp("identity"), PASSWORD,
                                  common_name="reprodmg nested signer", team="NESTED1234",
                                  serial=0x77, key_usage=True))


@pytest.fixture(scope="module")
def unsigned(builder, tmp_path_factory) -> Path:
    return make_nested_app(builder, tmp_path_factory.mktemp("nested-unsigned"))


def _copy(app: Path, dest: Path) -> Path:
    shutil.copytree(app, dest, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def signed(unsigned, identity, tmp_path_factory) -> tuple[Path, list[str]]:
    app = _copy(unsigned, tmp_path_factory.mktemp("nested-signed") / "Multi.app")
    order = sign_app(app, identity.p12, PASSWORD, hardened_runtime=True, epoch=EPOCH)
    return app, order


def _seal(path: Path) -> dict:
    return plistlib.loads(path.read_bytes())


def _cdhashes(path: Path) -> list[bytes]:
    out = []
    for sl in read_macho(path).slices:
        sb = blobs.SuperBlob.parse(sl.signature_bytes())
        out.append(blobs.CodeDirectory.parse(sb.get(0)).cdhash())
    return out


def test_signing_order_is_inside_out(signed):
    _app, order = signed
    assert order.index("Contents/Frameworks/Tiny.framework/Versions/A/Tiny") < \
        order.index("Contents/MacOS/Multi")
    assert order.index("Contents/PlugIns/Plug.bundle/Contents/MacOS/Plug") < \
        order.index("Contents/MacOS/Multi")
    assert order[-1] == "Contents/MacOS/Multi"
    assert sorted(order) == sorted([
        "Contents/Frameworks/Tiny.framework/Versions/A/Tiny",
        "Contents/PlugIns/Plug.bundle/Contents/MacOS/Plug", "Contents/Helpers/helper",
        "Contents/Frameworks/libloose.dylib", "Contents/MacOS/Multi"])


def test_every_item_verifies_and_each_bundle_has_its_own_seal(signed):
    app, _ = signed
    report = verify_path(app)
    assert report.ok, report.failures
    assert sorted(f.path for f in report.files) == sorted([
        "Contents/Frameworks/Tiny.framework/Versions/A/Tiny",
        "Contents/PlugIns/Plug.bundle/Contents/MacOS/Plug", "Contents/Helpers/helper",
        "Contents/Frameworks/libloose.dylib", "Contents/MacOS/Multi"])
    assert all(s.kind == "cms" for f in report.files for s in f.slices)
    fw_seal = _seal(app / "Contents/Frameworks/Tiny.framework/Versions/A/_CodeSignature/CodeResources")
    assert set(fw_seal["files2"]) == {"Resources/Info.plist", "Resources/tiny.txt"}
    plug_seal = _seal(app / "Contents/PlugIns/Plug.bundle/Contents/_CodeSignature/CodeResources")
    assert set(plug_seal["files2"]) == set()
    # The framework's main executable seals the framework's Info.plist (slot -1).
    tiny = read_macho(app / "Contents/Frameworks/Tiny.framework/Versions/A/Tiny").slices[0]
    cd = blobs.CodeDirectory.parse(blobs.SuperBlob.parse(tiny.signature_bytes()).get(0))
    info = (app / "Contents/Frameworks/Tiny.framework/Versions/A/Resources/Info.plist").read_bytes()
    assert cd.special_hashes[blobs.CSSLOT_INFOSLOT] == cd.hash(info)
    assert cd.identifier == "org.example.tiny"


def test_outer_seal_records_nested_code_by_cdhash_and_requirement(signed, identity):
    app, _ = signed
    seal = _seal(app / "Contents/_CodeSignature/CodeResources")
    files2 = seal["files2"]
    # Nested bundles are sealed as a whole, never file by file (codesign's shape).
    assert not any(k.startswith("Frameworks/Tiny.framework/") for k in files2)
    root_sha1 = identity.root_sha1_hex
    expected = {
        "Frameworks/Tiny.framework": ("org.example.tiny",
                                      "Contents/Frameworks/Tiny.framework/Versions/A/Tiny"),
        "PlugIns/Plug.bundle": ("org.example.plug",
                                "Contents/PlugIns/Plug.bundle/Contents/MacOS/Plug"),
        "Helpers/helper": ("helper", "Contents/Helpers/helper"),
        "Frameworks/libloose.dylib": ("libloose", "Contents/Frameworks/libloose.dylib"),
    }
    for key, (ident, code) in expected.items():
        entry = files2[key]
        assert set(entry) == {"cdhash", "requirement"}, key
        assert entry["cdhash"] == _cdhashes(app / code)[0]
        assert entry["requirement"] == (f'identifier "{ident}" and certificate root = '
                                        f'H"{root_sha1}"')
    assert files2["Resources/en.lproj/InfoPlist.strings"]["optional"] is True
    # The rule sets are codesign's, as Apple's codesign wrote them in the corpus.
    corpus = _seal(SIGNAPPLE_CORPUS / "signed/Contents/_CodeSignature/CodeResources")
    assert seal["rules"] == corpus["rules"] and seal["rules2"] == corpus["rules2"]


def test_every_nested_cms_verifies_with_openssl(signed, identity, tmp_path):
    app, _ = signed
    for rel in ("Contents/Frameworks/Tiny.framework/Versions/A/Tiny", "Contents/Helpers/helper",
                "Contents/PlugIns/Plug.bundle/Contents/MacOS/Plug"):
        sl = read_macho(app / rel).slices[0]
        sb = blobs.SuperBlob.parse(sl.signature_bytes())
        (tmp_path / "cd").write_bytes(sb.get(blobs.CSSLOT_CODEDIRECTORY))
        (tmp_path / "cms").write_bytes(blobs.blob_payload(sb.get(blobs.CSSLOT_SIGNATURESLOT)))
        proc = subprocess.run([require_tool("openssl"), "cms", "-verify", "-binary", "-inform",
                               "DER", "-in", str(tmp_path / "cms"), "-content",
                               str(tmp_path / "cd"), "-CAfile", str(identity.root_pem),
                               "-purpose", "any", "-out", os.devnull],
                              capture_output=True, text=True)
        assert proc.returncode == 0, (rel, proc.stderr)
        assert_matches_otool(app / rel)


def test_detach_apply_round_trip_gives_the_signed_tree(signed, unsigned, tmp_path):
    app, _ = signed
    members = signature_members(app)
    assert "Contents/Frameworks/Tiny.framework/Versions/A/_CodeSignature/CodeResources" in members
    assert "Contents/PlugIns/Plug.bundle/Contents/_CodeSignature/CodeResources" in members
    assert "Contents/Frameworks/Tiny.framework/Versions/A/Tiny.arm64sign" in members
    detach(app, tmp_path / "sig.tar", epoch=EPOCH)
    results = []
    for who in ("builder-a", "builder-b"):
        out = tmp_path / who / "Multi.app"
        apply(_copy(unsigned, tmp_path / f"{who}-in" / "Multi.app"), tmp_path / "sig.tar", out)
        assert verify_path(out).ok
        results.append(out)
    for path in sorted(p for p in app.rglob("*")):
        rel = path.relative_to(app)
        for out in results:
            other = out / rel
            if path.is_symlink():
                assert os.readlink(other) == os.readlink(path), rel
            elif path.is_file():
                assert other.read_bytes() == path.read_bytes(), rel


def test_tampering_inside_the_framework_names_the_framework_and_the_file(signed, tmp_path):
    app = _copy(signed[0], tmp_path / "Multi.app")
    data = app / "Contents/Frameworks/Tiny.framework/Versions/A/Resources/tiny.txt"
    data.write_bytes(b"framework data, changed\n")
    report = verify_path(app)
    assert not report.ok
    assert any("Contents/Frameworks/Tiny.framework/Versions/A/Tiny" in f and
               "CodeResources: Resources/tiny.txt: modified" in f for f in report.failures), \
        report.failures
    # The outer seal still holds: the framework's code is unchanged.
    assert not any(f.startswith("Contents/MacOS/Multi") for f in report.failures)


def test_changed_framework_code_breaks_the_outer_seal(signed, identity, tmp_path):
    """Re-signing the framework alone changes its cdhash: the app's seal names it."""
    app = _copy(signed[0], tmp_path / "Multi.app")
    fw = app / "Contents/Frameworks/Tiny.framework"
    sign_app(fw, identity.p12, PASSWORD, identifier="org.example.other", epoch=EPOCH)
    report = verify_path(app)
    assert any("Contents/MacOS/Multi" in f and
               "CodeResources: Frameworks/Tiny.framework: modified" in f
               for f in report.failures), report.failures


def test_adhoc_signing_signs_every_nested_item(unsigned, tmp_path):
    app = _copy(unsigned, tmp_path / "Multi.app")
    sign_app(app, None, None, epoch=EPOCH)
    report = verify_path(app)
    assert report.ok, report.failures
    assert {s.kind for f in report.files for s in f.slices} == {"adhoc"}
    files2 = _seal(app / "Contents/_CodeSignature/CodeResources")["files2"]
    tiny = _cdhashes(app / "Contents/Frameworks/Tiny.framework/Versions/A/Tiny")[0]
    assert files2["Frameworks/Tiny.framework"]["requirement"] == f'cdhash H"{tiny.hex()}"'
    # Ad hoc signing is a function of the bytes: twice gives the same tree.
    again = _copy(unsigned, tmp_path / "again" / "Multi.app")
    sign_app(again, None, None, epoch=EPOCH)
    for path in app.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert path.read_bytes() == (again / path.relative_to(app)).read_bytes()


def test_per_item_options(unsigned, identity, tmp_path):
    app = _copy(unsigned, tmp_path / "Multi.app")
    ent = plistlib.dumps({"com.apple.security.cs.disable-library-validation": True})
    sign_app(app, identity.p12, PASSWORD, epoch=EPOCH, items={
        "Contents/Helpers/helper": ItemOptions("org.example.multi.helper", ent, True),
        "Contents/Frameworks/Tiny.framework": ItemOptions("org.example.tiny.custom")})
    report = verify_path(app)
    assert report.ok, report.failures
    by_path = {f.path: f for f in report.files}
    helper = by_path["Contents/Helpers/helper"].slices[0]
    assert helper.identifier == "org.example.multi.helper"
    assert int(helper.flags, 16) & blobs.CS_RUNTIME
    sb = blobs.SuperBlob.parse(read_macho(app / "Contents/Helpers/helper").slices[0].signature_bytes())
    assert blobs.blob_payload(sb.get(blobs.CSSLOT_ENTITLEMENTS)) == ent
    tiny = by_path["Contents/Frameworks/Tiny.framework/Versions/A/Tiny"].slices[0]
    assert tiny.identifier == "org.example.tiny.custom" and not int(tiny.flags, 16) & blobs.CS_RUNTIME
    with pytest.raises(InputError, match="signing options for 'Contents/Helpers/nothing'"):
        sign_app(_copy(unsigned, tmp_path / "x" / "Multi.app"), identity.p12, PASSWORD,
                 items={"Contents/Helpers/nothing": ItemOptions()})


def test_signing_order_visits_a_framework_once(unsigned):
    order = signing_order(unsigned)
    roots = [b.root.relative_to(unsigned).as_posix() for b in order]
    assert roots[-1] == "." or roots[-1] == ""
    assert sorted(roots[:-1]) == ["Contents/Frameworks/Tiny.framework",
                                  "Contents/PlugIns/Plug.bundle"]
