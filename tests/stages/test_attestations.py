"""Builders' attestations (issue 15 §2): three builders with SSH keys made in
the test, one with a different artifact and one whose attestation was
changed after signing; ssh-keygen (and gpg) are the signature oracles."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, require_tool
from pipeline.build import attestation
from pipeline.errors import InputError

PUBLISHED = REPO / "examples" / "hello"


def _release(root: Path, *, dmg_digest: str | None = None) -> Path:
    """A release folder as the build leaves it (its sums and manifest)."""
    root.mkdir(parents=True)
    shutil.copy(PUBLISHED / "build-manifest.json", root / "build-manifest.json")
    sums = (PUBLISHED / "SHA256SUMS").read_text()
    if dmg_digest:
        sums = "\n".join(f"{dmg_digest}  {line.split('  ', 1)[1]}" if line.endswith(".dmg")
                         else line for line in sums.splitlines()) + "\n"
    (root / "SHA256SUMS").write_text(sums)
    return root


def _ssh_key(root: Path, name: str) -> tuple[Path, str]:
    key = root / f"{name}_ed25519"
    subprocess.run([require_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", name,
                    "-f", str(key)], check=True)
    return key, (root / f"{name}_ed25519.pub").read_text().strip()


@pytest.fixture
def three_builders(tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    sigs = tmp_path / "sigs"
    allowed = []
    for name, digest in (("alice", None), ("bob", None), ("carol", "0" * 64)):
        key, pub = _ssh_key(keys, name)
        allowed.append(f"{name} {pub}")
        release = _release(tmp_path / "builds" / name, dmg_digest=digest)
        attestation.attest(release, sigs / name, builder=name, ssh_key=key)
    (tmp_path / "allowed_signers").write_text("\n".join(allowed) + "\n")
    return sigs, tmp_path / "allowed_signers"


def test_the_document_records_sums_manifest_and_toolchain(tmp_path):
    doc = attestation.attestation_document(_release(tmp_path / "r"), "alice")
    published = dict(reversed(line.split("  ", 1))
                     for line in (PUBLISHED / "SHA256SUMS").read_text().splitlines())
    assert doc["artifacts"] == published
    assert doc["build_manifest_sha256"] == published["build-manifest.json"]
    assert doc["release"] == {"name": "Hello", "version": "1.0.0", "build": "1"}
    assert doc["toolchain"]["provider"] == "llvm" and "clang version 19" in doc["toolchain"]["clang"]


def test_agreeing_builders_pass(three_builders):
    sigs, allowed = three_builders
    shutil.rmtree(sigs / "carol")
    report = attestation.check(sigs, allowed_signers=allowed)
    assert report.agree and report.problems() == []
    assert all(len(d) == 1 for d in report.table.values())


def test_an_outlier_and_a_bad_signature_are_named(three_builders):
    sigs, allowed = three_builders
    # bob's attestation is changed after he signed it.
    doc = json.loads((sigs / "bob" / "attestation.json").read_text())
    doc["artifacts"]["Hello-1.0.0.dmg"] = "1" * 64
    (sigs / "bob" / "attestation.json").write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    report = attestation.check(sigs, allowed_signers=allowed)
    assert not report.agree
    problems = report.problems()
    assert any(p.startswith("bob: bad or unknown SSH signature") for p in problems), problems
    assert any(p.startswith("Hello-1.0.0.dmg: builders disagree:") and "alice" in p
               and "carol" in p for p in problems), problems
    table = attestation.format_table(report)
    assert "bob: NOT VERIFIED" in table and table.rstrip().endswith("DISAGREE")
    assert "0000000000000000 !" in table
    # The tarball and manifest rows agree: only the DMG is named.
    assert report.disagreements == ["Hello-1.0.0.dmg"]


def test_unknown_key_and_wrong_folder_name(three_builders, tmp_path):
    sigs, allowed = three_builders
    lines = [ln for ln in allowed.read_text().splitlines() if not ln.startswith("alice ")]
    allowed.write_text("\n".join(lines) + "\n")
    shutil.copytree(sigs / "bob", sigs / "mallory")
    report = attestation.check(sigs, allowed_signers=allowed)
    by = {b.builder: b for b in report.builders}
    assert not by["alice"].verified and "SSH signature" in by["alice"].problem
    assert not by["mallory"].verified       # bob's key does not speak for mallory


def test_command_line_exit_codes(three_builders):
    sigs, allowed = three_builders
    env = {**os.environ, "REPRODMG_PROGRESS": "0"}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "pipeline", "attestations", "check",
                               *map(str, args)], capture_output=True, text=True, cwd=REPO, env=env)
    proc = run(sigs, "--allowed-signers", allowed)
    assert proc.returncode == 1 and "DISAGREE" in proc.stdout and "Hello-1.0.0.dmg" in proc.stderr
    shutil.rmtree(sigs / "carol")
    proc = run(sigs, "--allowed-signers", allowed, "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["agree"] is True
    with pytest.raises(InputError, match="no <builder>/attestation.json"):
        attestation.check(sigs / "alice")


def test_openpgp_builders(tmp_path):
    gpg = require_tool("gpg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    subprocess.run([gpg, "--homedir", str(home), "--batch", "--passphrase", "",
                    "--quick-gen-key", "dave <dave@example.org>", "ed25519", "sign", "never"],
                   check=True, capture_output=True)
    release = _release(tmp_path / "r")
    attestation.attest(release, tmp_path / "sigs" / "dave", builder="dave",
                       gpg_key="dave@example.org", gpg_home=home)
    assert (tmp_path / "sigs/dave/attestation.json.asc").read_text().startswith(
        "-----BEGIN PGP SIGNATURE-----")
    assert attestation.check(tmp_path / "sigs", gpg_home=home).agree
    other = tmp_path / "other-gnupg"
    other.mkdir(mode=0o700)
    report = attestation.check(tmp_path / "sigs", gpg_home=other)
    assert not report.agree and "OpenPGP" in report.problems()[0]
