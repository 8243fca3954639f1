"""A Debian source package's upstream tarball, through the ordinary package
client: ``apt-get source --download-only`` with a private deb-src list and
private state under the cache (the host's apt configuration is neither read
for sources nor changed).  apt checks the files against the signed archive
indices; the caller's SHA-256 pin is checked again before anything reads
the tarball, and the file gets its final name in the cache only then, so a
pre-filled cache works offline.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..jsonfile import require_sha256
from ..progress import Progress

ARCHIVE = "http://deb.debian.org/debian"
SUITES = ("bookworm", "bookworm-updates")
SECURITY = "http://deb.debian.org/debian-security bookworm-security"


@dataclass(frozen=True)
class SourceTarball:
    """One file of a Debian source package, pinned by hash."""
    package: str            # llvm-toolchain-19
    version: str            # 1:19.1.7-3~deb12u1
    filename: str           # llvm-toolchain-19_19.1.7.orig.tar.xz
    sha256: str


def _sources_list() -> str:
    lines = [f"deb-src {ARCHIVE} {suite} main" for suite in SUITES]
    lines.append(f"deb-src {SECURITY} main")
    return "\n".join(lines) + "\n"


def _apt(state: Path, *args: str, cwd: Path) -> None:
    options = [
        "-o", f"Dir::Etc::SourceList={state / 'sources.list'}",
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", f"Dir::State::Lists={state / 'lists'}",
        "-o", f"Dir::Cache={state / 'cache'}",
        "-q",
    ]
    if os.geteuid() == 0:
        # apt drops to its _apt user for downloads, which cannot write to a
        # private folder of root's.
        options[-1:-1] = ["-o", "APT::Sandbox::User=root"]
    apt = shutil.which("apt-get")
    if apt is None:
        raise InputError("apt-get not found: fetching a Debian source package needs Debian's "
                         "package client (or a cache that already holds the file)")
    on_terminal = Progress("apt-get").enabled
    proc = subprocess.run([apt, *options, *args], cwd=cwd, capture_output=not on_terminal,
                          text=True, check=False)
    if proc.returncode != 0:
        tail = ((proc.stderr or proc.stdout or "").strip().splitlines() or ["(see above)"])[-3:]
        raise InputError(f"apt-get {' '.join(args)}: " + " / ".join(tail))


def fetch(source: SourceTarball, cache_dir: str | os.PathLike) -> Path:
    """``cache_dir/<filename>``, downloaded with apt-get if absent; always hash-checked."""
    cache = Path(cache_dir)
    final = cache / source.filename
    if final.exists():
        require_sha256(final, source.sha256, "refused (delete it to download it again)")
        return final
    cache.mkdir(parents=True, exist_ok=True)
    state = (cache / "apt-source-state").resolve()   # apt runs in another folder
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "sources.list").write_text(_sources_list())
    with tempfile.TemporaryDirectory(prefix=".apt-source-", dir=cache) as private:
        _apt(state, "update", cwd=Path(private))
        _apt(state, "source", "--download-only", f"{source.package}={source.version}",
             cwd=Path(private))
        downloaded = Path(private) / source.filename
        if not downloaded.is_file():
            raise InputError(f"apt-get source {source.package}={source.version} did not "
                             f"provide {source.filename}")
        require_sha256(downloaded, source.sha256, "downloaded file refused")
        os.replace(downloaded, final)
    return final

