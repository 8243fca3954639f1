"""What is fuzzed: each target makes its seed (a valid input made by the
project itself or taken from the repository's test data) and runs one
reader over a mutated copy, reading everything the input offers."""

from __future__ import annotations

import io
import json
import os
import plistlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MAX_READ = 8 << 20          # bytes of file data read per case


@dataclass(frozen=True)
class Target:
    name: str
    make_seed: Callable[[Path], bytes]
    run: Callable[[bytes, Path], None]
    hot: int | None = None          # header bytes mutated more often


def _tree():
    from ..hfs.tree import File, FileData, Folder, Symlink, Tree
    tree = Tree()
    tree.add("App.app", Folder())
    tree.add("App.app/Contents", Folder())
    tree.add("App.app/Contents/Info.plist", File(data=FileData.from_bytes(b"<plist/>\n" * 40)))
    tree.add("data.bin", File(data=FileData.from_bytes(bytes(range(256)) * 64),
                              xattrs={"com.example.k": b"value"}))
    tree.add("Applications", Symlink(target="/Applications"))
    return tree


def _volume_bytes() -> bytes:
    from ..hfs.writer import build_volume
    volume = build_volume(_tree(), volname="Fuzz", epoch=1700000000)
    return volume.read(0, volume.size)


def _read_volume(source, name: str) -> None:
    from ..hfs.reader import HFSReader
    reader = HFSReader(source, name)
    budget = MAX_READ
    for entry in reader.entries():
        if entry.kind == "file" and budget > 0:
            with reader.open(entry) as fh:
                budget -= len(fh.read(min(budget, max(entry.data_size, 0))))


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, length: int) -> bytes:
        from ..errors import CorruptError
        if offset < 0 or offset + length > self.size:
            raise CorruptError("<fuzz>", "volume", "read past the end", offset)
        return self.data[offset:offset + length]


# --------------------------------------------------------------------------

def _udif_seed(path: Path) -> bytes:
    from ..udif.writer import write_udif
    from ..hfs.writer import build_volume
    write_udif(build_volume(_tree(), volname="Fuzz", epoch=1700000000), path, format="UDZO",
               manifest_path=False)
    return path.read_bytes()


def _udif_run(data: bytes, path: Path) -> None:
    from ..udif.reader import open_udif
    from ..udif.verify import verify_image
    path.write_bytes(data)
    with open_udif(path) as image:
        verify_image(image)
        part = image.data_partition()
        _read_volume(image.partition_source(part.index), str(path))


def _hfs_seed(path: Path) -> bytes:
    return _volume_bytes()


def _hfs_run(data: bytes, path: Path) -> None:
    _read_volume(_Bytes(data), "<volume>")


class EscapedDestination(AssertionError):
    """An extraction wrote beside its destination: the fuzzer's failure."""


def _hfs_extract_run(data: bytes, path: Path) -> None:
    """Extract the volume into a fresh folder inside a fresh sandbox, then
    look beside the destination: anything there was written outside it."""
    from ..hfs.extract import extract
    from ..hfs.reader import HFSReader
    from ..safedest import remove_tree
    sandbox = path.with_name(path.name + ".sandbox")
    remove_tree(sandbox)
    sandbox.mkdir()
    around = sorted(os.listdir(path.parent))
    try:
        extract(HFSReader(_Bytes(data), "<volume>"), sandbox / "dest")
    finally:
        beside = sorted(set(os.listdir(sandbox)) - {"dest"})
        moved = sorted(os.listdir(path.parent)) != around
        remove_tree(sandbox)
    if beside or moved:
        raise EscapedDestination(f"written outside the destination: {beside or 'its parent'}")


def _sparse_seed(path: Path) -> bytes:
    from ..udif.sparse import write_sparseimage
    disk = _volume_bytes()
    out = io.BytesIO()
    write_sparseimage(lambda o, n: disk[o:o + n], len(disk), out.write, band_sectors=64)
    return out.getvalue()


def _container_run(data: bytes, path: Path, passphrase: bytes | None = None) -> None:
    from ..udif.container import open_container
    path.write_bytes(data)
    with open_container(path, passphrase=passphrase) as c:
        pos = 0
        while pos < min(c.size, MAX_READ):
            n = min(1 << 16, c.size - pos)
            c.pread(pos, n)
            pos += n
        if c.size < MAX_READ:
            _read_volume(_Bytes(c.pread(0, c.size)), str(path))


def _encrypted_seed(path: Path) -> bytes:
    from ..udif.encrypted import encrypt_blocks, new_v2
    disk = _volume_bytes()
    header, keys = new_v2(b"fuzz", len(disk), key_bits=128, seed=b"fuzz seed 0123456",
                          iterations=1000)
    out = io.BytesIO()
    out.write(header)
    encrypt_blocks(lambda o, n: disk[o:o + n], len(disk), keys, out.write)
    return out.getvalue()


def _macho_seed(path: Path) -> bytes:
    return _corpus_executable().read_bytes()


def _corpus_executable() -> Path:
    root = Path(os.environ.get("REPRODMG_CORPUS") or
                Path(__file__).resolve().parents[2].parent / "shared" / "corpus")
    return root / "signapple-x86" / "signed" / "Contents" / "MacOS" / "signapple-test"


def _macho_run(data: bytes, path: Path) -> None:
    from ..codesign.verify import verify_path
    from ..diff.macho import compare_macho
    path.write_bytes(data)
    verify_path(path)
    compare_macho(_corpus_executable().read_bytes(), data, "fuzz")


def _test_data(*parts: str) -> Path:
    return Path(__file__).resolve().parents[2].joinpath("tests", "data", *parts)


def _universal_seed(path: Path) -> bytes:
    """A universal binary codesign signed (armv7, armv7s, arm64; SHA-1
    CodeDirectories, CMS): tests/data/ios-helloworld."""
    return _test_data("ios-helloworld", "MachO-iOS-armv7-armv7s-arm64-Helloworld").read_bytes()


def _universal_run(data: bytes, path: Path) -> None:
    from ..codesign.verify import verify_path
    from ..diff.macho import compare_macho
    path.write_bytes(data)
    verify_path(path)
    compare_macho(_universal_seed(path), data, "fuzz")


def _real_volume_seed(path: Path) -> bytes:
    """An HFS+ volume macOS filled (tests/data/dfvfs-hfsplus): its own
    B-tree shapes, an extended attribute, a resource fork, .fseventsd."""
    import gzip
    return gzip.decompress(_test_data("dfvfs-hfsplus", "hfsplus.raw.gz").read_bytes())


def _code_resources_seed(path: Path) -> bytes:
    return (_corpus_executable().parents[1] / "_CodeSignature" / "CodeResources").read_bytes()


def _code_resources_run(data: bytes, path: Path) -> None:
    from ..codesign.coderesources import check_code_resources
    contents = path.with_suffix(".contents")
    if not contents.exists():
        (contents / "Resources").mkdir(parents=True)
        (contents / "Resources" / "a.txt").write_bytes(b"a")
        (contents / "Info.plist").write_bytes(plistlib.dumps({"CFBundleExecutable": "x"}))
    check_code_resources(contents, data, "MacOS/x", lambda p: set(), "CodeResources")


def _sigtar_seed(path: Path) -> bytes:
    from ..codesign.detach import detach
    detach(_corpus_executable().parents[2], path)
    return path.read_bytes()


def _sigtar_run(data: bytes, path: Path) -> None:
    # What `sig apply` does with a signer's tarball before writing anything:
    # read and check it against the unsigned app, attach each signature.
    from ..codesign.apply import _plan, attach_file
    path.write_bytes(data)
    unsigned = _corpus_executable().parents[3] / "unsigned"
    plan = _plan(unsigned, path)
    for stem, sigs in sorted(plan.signatures.items()):
        attach_file(unsigned / stem, sigs, stem, out=path.with_name("attached"))


def _xar_seed(path: Path) -> bytes:
    return _test_data("xar-samples", "sha1-file-bzip2.xar").read_bytes()


def _xar_run(data: bytes, path: Path) -> None:
    from ..pkg.xar import XarArchive
    archive = XarArchive(io.BytesIO(data), "fuzz.xar")
    budget = MAX_READ
    for member in archive.members:
        if member.type == "file" and member.size <= budget:
            budget -= sum(len(piece) for piece in archive.read(member))


def _appdmg_seed(path: Path) -> bytes:
    return json.dumps({"title": "Fuzz", "icon-size": 80, "background-color": "#336699",
                       "window": {"position": {"x": 1, "y": 2},
                                  "size": {"width": 300, "height": 200}},
                       "contents": [{"x": 1, "y": 2, "type": "link", "path": "/Applications"},
                                    {"x": 3, "y": 4, "type": "file", "path": "A.app"}]}).encode()


def _appdmg_run(data: bytes, path: Path) -> None:
    from ..build.layout_import import from_appdmg
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    from_appdmg(text, "fuzz.json")


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("udif", _udif_seed, _udif_run),
    Target("hfs", _hfs_seed, _hfs_run, hot=64 << 10),
    Target("hfs-extract", _hfs_seed, _hfs_extract_run, hot=64 << 10),
    Target("hfs-macos", _real_volume_seed, _hfs_run, hot=64 << 10),
    Target("sparse", _sparse_seed, lambda d, p: _container_run(d, p), hot=4096),
    Target("encrypted", _encrypted_seed, lambda d, p: _container_run(d, p, b"fuzz"), hot=4096),
    Target("macho", _macho_seed, _macho_run, hot=8192),
    Target("macho-universal", _universal_seed, _universal_run, hot=8192),
    Target("coderesources", _code_resources_seed, _code_resources_run),
    Target("sigtar", _sigtar_seed, _sigtar_run, hot=2048),
    Target("xar", _xar_seed, _xar_run, hot=1024),
    Target("appdmg", _appdmg_seed, _appdmg_run),
)}
