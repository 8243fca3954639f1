"""Builders' attestations: "I built this release and got these bytes",
signed, collected from many builders and compared (the guix.sigs workflow).

An attestation is one JSON document (``attestation.json``) in a folder per
builder: the builder's name, the release (name, version), the sums of
every artifact (the release's ``SHA256SUMS``, which already lists the build
manifest), the build manifest's digest and the toolchain's identity
(provider, clang's version line, the digest of the toolchain record).  It
is signed detached with the builder's SSH key (``ssh-keygen -Y sign``,
namespace ``reprodmg``: ``attestation.json.sig``) or OpenPGP key (``gpg
--detach-sign``: ``attestation.json.asc``).

``check`` reads ``DIR/<builder>/attestation.json`` for every builder,
verifies each signature (SSH: against an allowed-signers file, the
principal being the builder's name; OpenPGP: against the keys in the
given keyring), and tabulates artifact x builder.  It agrees only when
every attestation verified and every artifact has one digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..jsonfile import read_json, read_sha256sums

NAMESPACE = "reprodmg"
DOCUMENT = "attestation.json"
SSH_SIGNATURE = DOCUMENT + ".sig"
PGP_SIGNATURE = DOCUMENT + ".asc"
FORMAT = 1
_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C"}


def attestation_document(release_dir: str | os.PathLike, builder: str) -> dict:
    """What a builder attests for the release built in ``release_dir``
    (the folder holding SHA256SUMS and build-manifest.json)."""
    folder = Path(release_dir)
    if not builder or "/" in builder or builder.startswith("."):
        raise InputError(f"builder name {builder!r}: a plain name (it names a folder)")
    sums = read_sha256sums(folder / "SHA256SUMS")
    manifest = read_json(folder / "build-manifest.json")
    app = manifest.get("app", {})
    release = app.get("release", {})
    toolchain = app.get("toolchain") or {}
    tools = toolchain.get("tools", {})
    digest = hashlib.sha256(json.dumps(toolchain, sort_keys=True).encode()).hexdigest()
    return {
        "format": FORMAT,
        "builder": builder,
        "release": {"name": release.get("name"), "version": release.get("version"),
                    "build": release.get("build")},
        "artifacts": dict(sorted(sums.items())),
        "build_manifest_sha256": sums.get("build-manifest.json"),
        "toolchain": {"provider": toolchain.get("provider"),
                      "clang": (tools.get("clang") or {}).get("version"),
                      "record_sha256": digest} if toolchain else None,
    }


def _run(cmd: list[str], *, stdin: bytes | None = None, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, input=stdin, capture_output=True, env=_ENV, check=False,
                              timeout=120)
    except FileNotFoundError:
        raise InputError(f"{what}: {cmd[0]} not found (run .ci/setup)") from None


def attest(release_dir: str | os.PathLike, out_dir: str | os.PathLike, *, builder: str,
           ssh_key: str | os.PathLike | None = None, gpg_key: str | None = None,
           gpg_home: str | os.PathLike | None = None) -> Path:
    """Write ``out_dir/attestation.json`` and its signature; returns the folder."""
    if (ssh_key is None) == (gpg_key is None):
        raise InputError("attest: give exactly one of an SSH key or an OpenPGP key")
    doc = attestation_document(release_dir, builder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        staged = Path(tmp) / DOCUMENT
        staged.write_bytes(data)
        if ssh_key is not None:
            proc = _run(["ssh-keygen", "-Y", "sign", "-n", NAMESPACE, "-f", os.fspath(ssh_key),
                         os.fspath(staged)], what="attest")
            signature, name = Path(tmp) / SSH_SIGNATURE, SSH_SIGNATURE
        else:
            home = ["--homedir", os.fspath(gpg_home)] if gpg_home else []
            proc = _run(["gpg", *home, "--batch", "--yes", "--armor", "--local-user", gpg_key,
                         "--output", os.fspath(Path(tmp) / PGP_SIGNATURE), "--detach-sign",
                         os.fspath(staged)], what="attest")
            signature, name = Path(tmp) / PGP_SIGNATURE, PGP_SIGNATURE
        if proc.returncode != 0 or not signature.is_file():
            raise InputError(f"attest: signing failed: "
                             f"{proc.stderr.decode(errors='replace').strip()[-300:]}")
        for old in (SSH_SIGNATURE, PGP_SIGNATURE):
            (out / old).unlink(missing_ok=True)
        os.replace(signature, out / name)
        os.replace(staged, out / DOCUMENT)
    return out


@dataclass
class BuilderResult:
    builder: str
    verified: bool
    problem: str | None = None
    artifacts: dict[str, str] = field(default_factory=dict)
    release: dict = field(default_factory=dict)


@dataclass
class CheckReport:
    builders: list[BuilderResult]
    # artifact -> digest -> builders that reported it (verified attestations only)
    table: dict[str, dict[str, list[str]]]

    @property
    def disagreements(self) -> list[str]:
        return sorted(a for a, digests in self.table.items() if len(digests) > 1)

    @property
    def incomplete(self) -> list[str]:
        """Artifacts some verified builder did not attest."""
        verified = {b.builder for b in self.builders if b.verified}
        return sorted(a for a, digests in self.table.items()
                      if {x for xs in digests.values() for x in xs} != verified)

    @property
    def agree(self) -> bool:
        return (bool(self.builders) and all(b.verified for b in self.builders)
                and not self.disagreements and not self.incomplete)

    def problems(self) -> list[str]:
        out = [f"{b.builder}: {b.problem}" for b in self.builders if not b.verified]
        for artifact in self.disagreements:
            groups = "; ".join(f"{d[:16]}… by {', '.join(sorted(who))}"
                               for d, who in sorted(self.table[artifact].items()))
            out.append(f"{artifact}: builders disagree: {groups}")
        for artifact in self.incomplete:
            if artifact not in self.disagreements:
                out.append(f"{artifact}: not attested by every verified builder")
        return out

    def to_json(self) -> dict:
        return {"agree": self.agree, "problems": self.problems(),
                "builders": [{"builder": b.builder, "verified": b.verified,
                              "problem": b.problem, "release": b.release}
                             for b in self.builders],
                "artifacts": {a: {d: sorted(w) for d, w in sorted(ds.items())}
                              for a, ds in sorted(self.table.items())}}


def _verify_one(folder: Path, builder: str, allowed_signers: Path | None,
                gpg_home: Path | None) -> str | None:
    """None when the builder's signature verifies, else the problem."""
    doc = folder / DOCUMENT
    if (folder / SSH_SIGNATURE).is_file():
        if allowed_signers is None:
            return "SSH signature, but no --allowed-signers file was given"
        proc = _run(["ssh-keygen", "-Y", "verify", "-f", os.fspath(allowed_signers), "-I",
                     builder, "-n", NAMESPACE, "-s", os.fspath(folder / SSH_SIGNATURE)],
                    stdin=doc.read_bytes(), what="attestations check")
        if proc.returncode != 0:
            why = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
            return f"bad or unknown SSH signature ({why[-1] if why else 'ssh-keygen refused it'})"
        return None
    if (folder / PGP_SIGNATURE).is_file():
        home = ["--homedir", os.fspath(gpg_home)] if gpg_home else []
        proc = _run(["gpg", *home, "--batch", "--verify", os.fspath(folder / PGP_SIGNATURE),
                     os.fspath(doc)], what="attestations check")
        if proc.returncode != 0:
            return "bad or unknown OpenPGP signature"
        return None
    return f"no signature ({SSH_SIGNATURE} or {PGP_SIGNATURE})"


def check(folder: str | os.PathLike, *, allowed_signers: str | os.PathLike | None = None,
          gpg_home: str | os.PathLike | None = None) -> CheckReport:
    """Verify and compare every ``<folder>/<builder>/attestation.json``."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of attestations")
    results = []
    table: dict[str, dict[str, list[str]]] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        builder = sub.name
        if not (sub / DOCUMENT).is_file():
            continue
        try:
            doc = json.loads((sub / DOCUMENT).read_text(encoding="utf-8"))
            artifacts = {str(k): str(v) for k, v in doc["artifacts"].items()}
            named = doc["builder"]
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            results.append(BuilderResult(builder, False, f"{DOCUMENT} is not an attestation "
                                                         f"({exc.__class__.__name__})"))
            continue
        problem = _verify_one(sub, builder,
                              Path(allowed_signers) if allowed_signers else None,
                              Path(gpg_home) if gpg_home else None)
        if problem is None and named != builder:
            problem = f"the attestation names builder {named!r}, its folder {builder!r}"
        result = BuilderResult(builder, problem is None, problem, artifacts,
                               doc.get("release") or {})
        results.append(result)
        if result.verified:
            for artifact, digest in artifacts.items():
                table.setdefault(artifact, {}).setdefault(digest, []).append(builder)
    if not results:
        raise InputError(f"{root}: no <builder>/{DOCUMENT} found")
    return CheckReport(results, table)


def format_table(report: CheckReport) -> str:
    """artifact x builder, digests shortened; outliers marked."""
    builders = [b.builder for b in report.builders]
    lines = []
    width = max([len(a) for a in report.table] + [8])
    lines.append(f"{'artifact':<{width}}  " + "  ".join(f"{b:<18}" for b in builders))
    for artifact, digests in sorted(report.table.items()):
        majority = max(digests.items(), key=lambda kv: len(kv[1]))[0]
        cells = []
        for b in builders:
            digest = next((d for d, who in digests.items() if b in who), None)
            if digest is None:
                cells.append(f"{'-':<18}")
            else:
                mark = "" if digest == majority else " !"
                cells.append(f"{digest[:16] + mark:<18}")
        lines.append(f"{artifact:<{width}}  " + "  ".join(cells))
    for b in report.builders:
        if not b.verified:
            lines.append(f"{b.builder}: NOT VERIFIED: {b.problem}")
    lines.append("agree" if report.agree else "DISAGREE")
    return "\n".join(lines) + "\n"

