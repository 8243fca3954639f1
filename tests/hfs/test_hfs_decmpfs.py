"""HFS+ compressed files (decmpfs) are read decompressed.

The compressed files are built here from the layout description (zlib from
the standard library, LZVN/LZFSE from the lzfse reference library), stored
with our writer (flag UF_COMPRESSED, com.apple.decmpfs attribute, resource
fork), and must read back identically through libfshfs, 7-Zip and our
reader."""

from __future__ import annotations

import random
import struct
import subprocess
import zlib

import lzfse
import pytest

from helpers import require_tool
from pipeline.errors import CorruptError
from pipeline.hfs.listing import format_entries
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.tree import File, FileData, Tree
from pipeline.hfs.writer import build_volume
from pipeline.imagesource import FileImageSource

UF_COMPRESSED = 0x20
CHUNK = 65536


def header(ctype: int, size: int) -> bytes:
    return b"fpmc" + struct.pack("<IQ", ctype, size)


def lzvn_raw(data: bytes) -> bytes:
    """Raw LZVN of a small chunk: the payload of the reference encoder's
    "bvxn" block (it uses LZVN for inputs under 4 KiB)."""
    frame = lzfse.compress(data)
    assert frame[:4] == b"bvxn", "reference encoder chose another block type"
    _raw, n_payload = struct.unpack_from("<II", frame, 4)
    return frame[12:12 + n_payload]


def resource_map() -> bytes:
    """The 50-byte resource map Apple writes after compressed data: one
    resource type 'cmpf' with one resource, id 1, no name, data offset 0."""
    return (bytes(16) + bytes(4) + bytes(2) + bytes(2)          # header copy, handle, ref, attrs
            + struct.pack(">HHH", 28, 50, 0)                   # types offset, names offset, types-1
            + b"cmpf" + struct.pack(">HH", 0, 10)              # type, resources-1, list offset
            + struct.pack(">HHI", 1, 0xFFFF, 0) + bytes(4))    # id, no name, attrs+offset, handle


def zlib_rsrc(data: bytes) -> bytes:
    """Type 4: a resource fork whose data (at 0x100) is a chunk table and the
    zlib chunks, followed by the resource map."""
    chunks = [zlib.compress(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK)]
    table = struct.pack("<I", len(chunks))
    offset = 4 + 8 * len(chunks)
    for c in chunks:
        table += struct.pack("<II", offset, len(c))
        offset += len(c)
    body = table + b"".join(chunks)
    rmap = resource_map()
    data_len = 4 + len(body)
    head = struct.pack(">IIII", 0x100, 0x100 + data_len, data_len, len(rmap))
    return head + bytes(0x100 - 16) + struct.pack(">I", len(body)) + body + rmap


def table_rsrc(chunks: list[bytes]) -> bytes:
    """Types 8 and 12: u32 offsets (little-endian), then the chunks."""
    offs = [4 * (len(chunks) + 1)]
    for c in chunks:
        offs.append(offs[-1] + len(c))
    return struct.pack(f"<{len(offs)}I", *offs) + b"".join(chunks)


LIBFSHFS, SEVENZIP = "libfshfs", "7z"


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """{name: (decmpfs attribute, resource fork, data, oracles that read it)}."""
    rng = random.Random(3)
    text = b"".join(b"line %d of some compressible text\n" % i for i in range(8000))  # 287 KB
    small = text[:3000]
    noise = rng.randbytes(3000)
    both = {LIBFSHFS, SEVENZIP}
    files = {
        # Type 1 (data stored in the attribute) is read by neither oracle.
        "none-inline": (header(1, 40) + text[:40], None, text[:40], set()),
        "zlib-inline": (header(3, 2000) + zlib.compress(text[:2000]), None, text[:2000], both),
        "zlib-inline-raw": (header(3, 9) + b"\xff" + b"raw bytes", None, b"raw bytes", both),
        "zlib-rsrc": (header(4, len(text)), zlib_rsrc(text), text, both),
        "lzvn-inline": (header(7, len(small)) + lzvn_raw(small), None, small, both),
        "lzvn-rsrc": (header(8, len(small)), table_rsrc([lzvn_raw(small)]), small, both),
        "lzvn-rsrc-raw": (header(8, len(noise)), table_rsrc([b"\x06" + noise]), noise,
                          {SEVENZIP}),
        "lzfse-inline": (header(11, 2500) + lzfse.compress(text[:2500]), None, text[:2500],
                         {LIBFSHFS}),
        "lzfse-rsrc": (header(12, len(text)),
                       table_rsrc([lzfse.compress(text[i:i + CHUNK])
                                   for i in range(0, len(text), CHUNK)]), text, {LIBFSHFS}),
    }
    tree = Tree()
    for name, (attr, rsrc, _data, _oracles) in files.items():
        tree.add(name, File(bsd_flags=UF_COMPRESSED, xattrs={"com.apple.decmpfs": attr},
                            rsrc=FileData.from_bytes(rsrc) if rsrc else None))
    vol = build_volume(tree, volname="Compressed")
    path = tmp_path_factory.mktemp("decmpfs") / "c.hfs"
    with open(path, "wb") as fh:
        vol.write_to(fh)
    return path, {k: (v[2], v[3]) for k, v in files.items()}


def test_compressed_files_read_by_our_reader(volume):
    path, want = volume
    with FileImageSource(path) as src:
        reader = HFSReader(src, "c.hfs")
        entries = {e.path: e for e in reader.entries()}
        assert set(entries) == set(want)
        for name, (data, _oracles) in want.items():
            e = entries[name]
            assert e.compression and e.data_size == len(data), name
            assert "com.apple.decmpfs" not in e.xattrs
            assert reader.open(e).read() == data, name
        # Random access across chunk boundaries.
        s = reader.open(entries["zlib-rsrc"])
        s.seek(CHUNK - 10)
        assert s.read(30) == want["zlib-rsrc"][0][CHUNK - 10:CHUNK + 20]
        assert "compressed (zlib)" in format_entries(entries.values())


def test_compressed_files_agree_with_libfshfs(volume):
    import pyfshfs
    path, want = volume
    vol = pyfshfs.volume()
    vol.open(str(path))
    checked = 0
    for name, (data, oracles) in want.items():
        if LIBFSHFS in oracles:
            entry = vol.get_file_entry_by_path("/" + name)
            assert entry.size == len(data), name
            assert entry.read() == data, name
            checked += 1
    assert checked >= 7


def test_compressed_files_agree_with_7zip(volume, tmp_path):
    path, want = volume
    names = [n for n, (_d, oracles) in want.items() if SEVENZIP in oracles]
    res = subprocess.run([require_tool("7z"), "x", "-y", f"-o{tmp_path}", str(path),
                          *(f"Compressed/{n}" for n in names)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    for name in names:
        assert (tmp_path / "Compressed" / name).read_bytes() == want[name][0], name
    assert len(names) >= 6


def test_damaged_compressed_data_is_corrupt(tmp_path):
    tree = Tree()
    tree.add("bad", File(bsd_flags=UF_COMPRESSED,
                         xattrs={"com.apple.decmpfs": header(3, 100) + b"\x78\x9cgarbage"}))
    tree.add("short", File(bsd_flags=UF_COMPRESSED,
                           xattrs={"com.apple.decmpfs": header(4, 10 * CHUNK)},
                           rsrc=FileData.from_bytes(zlib_rsrc(b"x" * CHUNK))))
    vol = build_volume(tree, volname="Bad")
    reader = HFSReader(vol, "bad.hfs")
    entries = {e.path: e for e in reader.entries()}
    with pytest.raises(CorruptError, match="bad.*decmpfs"):
        reader.open(entries["bad"]).read()
    with pytest.raises(CorruptError, match="chunk table"):
        reader.open(entries["short"]).read()


def test_lzfse_chunk_declaring_more_than_its_size_is_never_expanded(monkeypatch):
    # 32 MiB of zeros compress to ~20 KB: a valid-looking chunk of a 64 KiB
    # file.  The block headers are checked before the decoder runs, so the
    # 32 MiB are never allocated.
    bomb = lzfse.compress(bytes(32 << 20))
    assert len(bomb) < 2 * CHUNK
    tree = Tree()
    tree.add("bomb-rsrc", File(bsd_flags=UF_COMPRESSED, xattrs={"com.apple.decmpfs":
                                                                  header(12, CHUNK)},
                               rsrc=FileData.from_bytes(table_rsrc([bomb]))))
    tree.add("bomb-inline", File(bsd_flags=UF_COMPRESSED, xattrs={"com.apple.decmpfs":
                                                                    header(11, 100) + bomb}))
    reader = HFSReader(build_volume(tree, volname="Bomb"), "bomb.hfs")
    entries = {e.path: e for e in reader.entries()}

    def refuse(_data):
        raise AssertionError("lzfse.decompress called on an oversized stream")
    monkeypatch.setattr(lzfse, "decompress", refuse)
    for name in entries:
        with pytest.raises(CorruptError, match=r"bomb\.hfs.*declare 33554432 bytes"):
            reader.open(entries[name]).read()


def test_huge_chunk_table_is_read_one_entry_at_a_time(tmp_path):
    import tracemalloc
    # A file claiming 1 TiB (16 M chunks) whose resource fork really is as
    # big as the 64 MiB offset table (sparse here; zero-fill chunks in a DMG).
    size = 1 << 40
    count = size // CHUNK
    rsrc = tmp_path / "rsrc"
    with open(rsrc, "wb") as fh:
        fh.write(struct.pack("<II", 4 * (count + 1), 4 * (count + 1) + 10))
        fh.truncate(4 * (count + 1) + 10)
    tree = Tree()
    tree.add("huge", File(bsd_flags=UF_COMPRESSED, xattrs={"com.apple.decmpfs":
                                                             header(8, size)}))
    vol = build_volume(tree, volname="Huge", resource_forks={"huge": rsrc})
    reader = HFSReader(vol, "huge.hfs")
    entry = next(reader.entries())
    tracemalloc.start()
    try:
        with pytest.raises(CorruptError, match="chunk 0 does not decode"):
            reader.open(entry).read(CHUNK)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak


def test_zlib_bomb_for_an_empty_file_is_not_expanded():
    import tracemalloc
    # zlib's max_length=0 means "unlimited": an empty compressed file whose
    # (fork-data) attribute holds a 200 KB stream of 200 MB of zeros.
    bomb = zlib.compress(bytes(200 << 20), 9)
    tree = Tree()
    tree.add("empty", File(bsd_flags=UF_COMPRESSED,
                           xattrs={"com.apple.decmpfs": header(3, 0) + bomb}))
    reader = HFSReader(build_volume(tree, volname="Bomb"), "bomb.hfs")
    entry = next(reader.entries())
    tracemalloc.start()
    try:
        with pytest.raises(CorruptError, match="bomb.hfs.*'empty'.*decodes to 1 bytes, 0"):
            reader.open(entry).read()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


@pytest.mark.parametrize("ctype, size, payload, problem", [
    (7, 60 << 20, b"\x06" + b"x" * 10, "attribute data decodes to 10 bytes"),
    (7, 1 << 39, b"\x06", "too large for attribute data"),
    (8, 1 << 39, b"", "offset table of"),
    (12, 1 << 38, b"", "offset table of"),
])
def test_declared_sizes_never_drive_allocations(tmp_path, ctype, size, payload, problem):
    # Issue 18: a decmpfs header declaring a huge size (inline LZVN, or a
    # resource fork's chunk table) is checked against what the attribute or
    # fork can hold before anything is allocated: `dmg extract` under a
    # 2 GiB address-space limit says what is wrong instead of MemoryError.
    import resource
    import subprocess
    import sys

    from helpers import REPO
    from pipeline.hfs.decmpfs import UF_COMPRESSED, XATTR_NAME
    from pipeline.hfs.tree import File, FileData, Tree
    from pipeline.udif.writer import write_udif
    tree = Tree()
    header = b"fpmc" + struct.pack("<IQ", ctype, size) + payload
    rsrc = FileData.from_bytes(struct.pack(">I", 256) + bytes(300)) if ctype in (8, 12) else None
    tree.add("f", File(data=FileData.from_bytes(b""), xattrs={XATTR_NAME: header},
                       bsd_flags=UF_COMPRESSED, rsrc=rsrc))
    dmg = tmp_path / "x.dmg"
    write_udif(build_volume(tree, volname="V"), dmg, format="UDZO", manifest_path=False)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    proc = subprocess.run([sys.executable, "-m", "pipeline", "dmg", "extract", str(dmg),
                           str(tmp_path / "out")], capture_output=True, text=True, cwd=REPO,
                          preexec_fn=limit, timeout=120)
    assert proc.returncode == 2 and "MemoryError" not in proc.stderr, proc.stderr
    assert problem in proc.stderr and proc.stderr.count("\n") == 1
