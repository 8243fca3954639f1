"""Reading HFS+ / HFSX volumes from any ImageSource.

``HFSReader(source, name)`` checks the volume header, walks the catalog
B-tree once (checking key order, record sizes and thread records), resolves
hard links through the private "\\0\\0\\0\\0HFS+ Private Data" folder, and
serves entries and streaming file data (``extract`` writes them to a
folder).  Nothing read from the image is trusted before it is checked
against the image.
"""

from __future__ import annotations

import io
import itertools
import stat
import struct
from dataclasses import dataclass, field, fields
from typing import Iterator

from ..errors import CorruptError, InputError, UnsupportedError
from ..fsprobe import identify
from ..imagesource import ImageSource
from ..textescape import printable
from . import decmpfs
from . import unicode as hfsuni
from .btree import (COMPARE_BINARY, BTreeReader, split_key)
from .structs import (ATTR_FORK_DATA, ATTR_INLINE_DATA, ATTR_MAX_KEY_LENGTH,
                      CATALOG_MAX_KEY_LENGTH, CNID_ATTRIBUTES, CNID_CATALOG, CNID_EXTENTS,
                      CNID_ROOT_FOLDER, CNID_ROOT_PARENT, CREATOR_HFSPLUS, CREATOR_SYMLINK,
                      EXTENT_MAX_KEY_LENGTH,
                      FILE_RECORD_SIZE, FORK_DATA_TYPE, FORK_RSRC_TYPE, REC_FILE, REC_FILE_THREAD,
                      REC_FOLDER, REC_FOLDER_THREAD, SIG_HFSX, TYPE_HARDLINK, TYPE_SYMLINK,
                      AttrInlineHead, ExtentKey, ExtentRecord, FileRecord, FolderRecord, ForkData,
                      ThreadRecord, VolumeHeader, parse_attr_key, parse_catalog_key, record_type,
                      unix_date)
from .volume import (SizedStream, check_fork, fork_byte_runs, fork_extents, journal_state,
                     read_volume_header)

# Private folders macOS hides from users (hfs_format.h).
PRIVATE_DATA_NAME = "\0\0\0\0HFS+ Private Data"
PRIVATE_DIR_DATA_NAME = ".HFS+ Private Directory Data\r"
HIDDEN_ROOT_NAMES = (PRIVATE_DATA_NAME, PRIVATE_DIR_DATA_NAME)
# On journaled volumes macOS also hides the journal files in the root folder.
JOURNAL_FILE_NAMES = (".journal", ".journal_info_block")

# Attribute values are held in memory: one at most 64 MiB (the writer's
# limit too), all of them together at most 256 MiB - many fork-data records
# may point at the same blocks, so the volume's size is no bound.
MAX_ATTRIBUTE_SIZE = 64 << 20
MAX_ATTRIBUTES_TOTAL = 256 << 20
# Linux's PATH_MAX.  Every entry carries its whole path, so without a bound
# a chain of nested folders with 255-unit names (600 bytes of catalog each)
# would make listing memory grow with the square of the depth.
MAX_PATH_CHARS = 4096
# A symlink target longer than PATH_MAX is not a symlink macOS could make.
MAX_LINK_TARGET = 4096


def _fourcc(code: bytes) -> str:
    """A Finder type/creator code as text: "" when unset, hex when not printable."""
    if code == b"\0\0\0\0":
        return ""
    if all(0x20 <= c < 0x7F for c in code):
        return code.decode("ascii")
    return "0x" + code.hex()


class ExtentsOverflow:
    """The extents-overflow B-tree, loaded on first use into a dict."""

    def __init__(self, source: ImageSource, name: str, vh: VolumeHeader) -> None:
        self.source, self.name, self.vh = source, name, vh
        self._records: dict[tuple[int, int, int], list[tuple[int, int]]] | None = None

    def _load(self) -> None:
        self._records = {}
        fork = self.vh.extentsFile
        if fork.totalBlocks == 0:
            return
        # The extents file can never itself overflow (TN1150).
        extents = fork_extents(fork, self.vh, self.name, "volume header.extentsFile",
                               CNID_EXTENTS)
        tree = BTreeReader(self.source, self.name, "extents overflow",
                           fork_byte_runs(extents, self.vh.blockSize, fork.logicalSize))
        for node, i, rec in tree.leaf_records():
            key, data = split_key(rec, "extents overflow", self.name, node, i,
                                  EXTENT_MAX_KEY_LENGTH)
            if len(key) != 12 or len(data) < 64:
                raise CorruptError(self.name, f"extents overflow B-tree node {node.number} "
                                   f"record {i}", "record is not a 12-byte key and 64-byte "
                                   "extent record", node.offset + node.record_offsets[i])
            k = ExtentKey.parse(key)
            self._records[(k.fileID, k.forkType, k.startBlock)] = ExtentRecord.parse(data).extents

    def lookup(self, file_id: int, fork_type: int, start_block: int) -> list[tuple[int, int]]:
        if self._records is None:
            self._load()
        return self._records.get((file_id, fork_type, start_block), [])


@dataclass
class Entry:
    """One catalog object as the reader sees it."""

    path: str                       # POSIX path relative to the volume root
    kind: str                       # "dir", "file" or "symlink"
    cnid: int
    mode: int
    uid: int
    gid: int
    create_date: int                # Unix seconds (0 when never set)
    modify_date: int
    access_date: int
    attribute_mod_date: int
    backup_date: int
    flags: int                      # catalog record flags
    finder_flags: int
    file_type: str = ""
    creator: str = ""
    link_target: str | None = None
    xattrs: dict[str, bytes] = field(default_factory=dict)
    data_size: int = 0
    rsrc_size: int = 0
    valence: int | None = None
    hardlink_inode: int | None = None   # iNode<N> number for hard links
    nlink: int = 1
    bsd_flags: int = 0                  # adminFlags << 16 | ownerFlags (chflags style)
    compression: str | None = None      # decmpfs method of a compressed file
    _data_fork: ForkData | None = field(default=None, repr=False, compare=False)
    _rsrc_fork: ForkData | None = field(default=None, repr=False, compare=False)
    _fork_owner: int = field(default=0, repr=False, compare=False)
    _decmpfs: bytes | None = field(default=None, repr=False, compare=False)
    # FileInfo/FolderInfo + extended info, as com.apple.FinderInfo shows them.
    _finder_info: bytes = field(default=bytes(32), repr=False, compare=False)

    @property
    def finder_info(self) -> bytes:
        """The 32 bytes of Finder info (com.apple.FinderInfo on macOS)."""
        return self._finder_info

    def fork_record(self, fork: str = "data") -> ForkData | None:
        """The catalog's fork record ("data" or "rsrc"); None for folders and links' owners."""
        return self._data_fork if fork == "data" else self._rsrc_fork

    @property
    def fork_owner(self) -> int:
        """CNID whose forks hold the data: the file itself, or a hard link's iNode."""
        return self._fork_owner

    def to_json(self) -> dict:
        # Every public field is a plain value (xattrs is replaced below): no
        # deep copy (asdict would copy the private fork records too, and
        # cost most of a long `ls --json`).
        out = {name: getattr(self, name) for name in _PUBLIC_ENTRY_FIELDS}
        if self.link_target is not None:
            out["link_target"] = printable(self.link_target)
        out["mode"] = f"{self.mode:06o}"
        out["xattrs"] = {k: {"size": len(v), "hex": v.hex() if len(v) <= 64 else None}
                         for k, v in sorted(self.xattrs.items())}
        return out


_PUBLIC_ENTRY_FIELDS = tuple(f.name for f in fields(Entry) if not f.name.startswith("_"))


class ForkStream(SizedStream):
    """A read-only, seekable stream over one fork's extents."""

    def __init__(self, source: ImageSource, runs: list[tuple[int, int]], size: int) -> None:
        super().__init__(size)
        self._source = source
        self._runs = runs

    def readinto(self, buf: bytearray | memoryview) -> int:
        want = min(len(buf), self._size - self._pos)
        if want <= 0:
            return 0
        done = 0
        file_off = 0
        for start, length in self._runs:
            if self._pos + done >= file_off + length:
                file_off += length
                continue
            inner = self._pos + done - file_off
            n = min(want - done, length - inner)
            buf[done:done + n] = self._source.read(start + inner, n)
            done += n
            file_off += length
            if done >= want:
                break
        self._pos += done
        return done


class HFSReader:
    """An HFS+ or HFSX volume inside ``source`` (``name`` is used in errors)."""

    def __init__(self, source: ImageSource, name: str) -> None:
        self.source = source
        self.name = name
        vh = read_volume_header(source, name)
        if vh is None:
            found = identify(source)
            if found is not None:
                raise UnsupportedError(f"{name}: holds {found}, not an HFS+ or HFSX volume; "
                                       "listing and extracting it are not supported")
            raise CorruptError(name, "volume header.signature",
                               "no HFS+ (H+) or HFSX (HX) signature", 1024)
        self.vh = vh
        self.overflow = ExtentsOverflow(source, name, vh)
        # "none", "clean" or "dirty": a dirty journal means macOS would replay
        # transactions this reader does not see.
        self.journal = journal_state(source, name, vh)
        cat_ext = fork_extents(vh.catalogFile, vh, name, "volume header.catalogFile",
                               CNID_CATALOG, overflow=self.overflow.lookup)
        self.catalog = BTreeReader(source, name, "catalog",
                                   fork_byte_runs(cat_ext, vh.blockSize,
                                                  vh.catalogFile.logicalSize))
        self.case_sensitive = (vh.signature == SIG_HFSX
                               and self.catalog.header.keyCompareType == COMPARE_BINARY)
        self.attributes: BTreeReader | None = None
        if vh.attributesFile.totalBlocks:
            attr_ext = fork_extents(vh.attributesFile, vh, name,
                                    "volume header.attributesFile", CNID_ATTRIBUTES,
                                    overflow=self.overflow.lookup)
            self.attributes = BTreeReader(source, name, "attributes",
                                          fork_byte_runs(attr_ext, vh.blockSize,
                                                         vh.attributesFile.logicalSize))
        self._loaded = False

    # --- catalog walk ---------------------------------------------------------

    def catalog_keys(self) -> Iterator[tuple[int, str]]:
        """(parentID, name) of every catalog leaf record, in on-disk order."""
        for node, i, rec in self.catalog.leaf_records():
            key, _ = split_key(rec, "catalog", self.name, node, i, CATALOG_MAX_KEY_LENGTH)
            try:
                parent, raw = parse_catalog_key(key)
            except (ValueError, struct.error) as exc:
                raise CorruptError(self.name, f"catalog B-tree node {node.number} record {i} "
                                   "key", str(exc), node.offset + node.record_offsets[i]) from None
            yield parent, hfsuni.decode_name(raw)

    def _children(self, folder_id: int) -> Iterator[tuple[str, object]]:
        """(name, FolderRecord | FileRecord) of the folder's items, in
        catalog order, read from the B-tree range holding them: one folder's
        records at a time, never the whole catalog."""
        prev = None
        for node, i, rec in self.catalog.records_from(
                lambda key: len(key) >= 6 and struct.unpack_from(">I", key, 2)[0] < folder_id,
                CATALOG_MAX_KEY_LENGTH):
            where = f"catalog B-tree node {node.number} record {i}"
            off = node.offset + node.record_offsets[i]
            key, data = split_key(rec, "catalog", self.name, node, i, CATALOG_MAX_KEY_LENGTH)
            try:
                parent, raw = parse_catalog_key(key)
            except (ValueError, struct.error) as exc:
                raise CorruptError(self.name, f"{where} key", str(exc), off) from None
            if parent != folder_id:
                if parent < folder_id:
                    raise CorruptError(self.name, f"{where} key", "catalog keys out of order "
                                       f"(parent {parent} after parent {folder_id})", off)
                return
            name = hfsuni.decode_name(raw)
            order = hfsuni.name_key(name, self.case_sensitive)
            if prev is not None and order <= prev:
                raise CorruptError(self.name, f"{where} key", "catalog keys out of order "
                                   f"(parent {parent}, name {name!r})", off)
            prev = order
            rtype = record_type(data)
            try:
                if rtype == REC_FOLDER:
                    if len(data) < FolderRecord.struct_size():
                        raise ValueError(f"folder record of {len(data)} bytes")
                    yield name, FolderRecord.parse(data)
                elif rtype == REC_FILE:
                    if len(data) < FILE_RECORD_SIZE:
                        raise ValueError(f"file record of {len(data)} bytes")
                    yield name, FileRecord.parse(data)
                elif rtype in (REC_FOLDER_THREAD, REC_FILE_THREAD):
                    if name:
                        raise ValueError("thread record key has a name")
                    ThreadRecord.parse(data)
                else:
                    raise ValueError(f"unknown record type {rtype}")
            except (ValueError, struct.error) as exc:
                raise CorruptError(self.name, where, str(exc), off) from None

    def _load(self) -> None:
        """The root folder record and the hard-link inodes (the private
        folder's files): what every entry may need.  Other folders are read
        when the walk reaches them."""
        if self._loaded:
            return
        roots = list(itertools.islice(self._children(CNID_ROOT_PARENT), 2))
        if not roots or not isinstance(roots[0][1], FolderRecord) \
                or roots[0][1].folderID != CNID_ROOT_FOLDER:
            raise CorruptError(self.name, "catalog B-tree", "no root folder record "
                               "(parent 1, CNID 2)")
        self._root_record = roots[0][1]
        self._volume_name = roots[0][0]
        try:
            self._volume_name.encode("utf-8")
        except UnicodeEncodeError:
            raise CorruptError(self.name, "catalog root folder record", "volume name is not "
                               "valid UTF-16 (unpaired surrogate)") from None
        self._private_id = None
        for name, rec in self._children(CNID_ROOT_FOLDER):
            if name == PRIVATE_DATA_NAME and isinstance(rec, FolderRecord):
                self._private_id = rec.folderID
        self._inodes: dict[int, FileRecord] = {}
        if self._private_id is not None:
            for name, rec in self._children(self._private_id):
                if isinstance(rec, FileRecord) and name.startswith("iNode"):
                    try:
                        self._inodes[int(name[5:])] = rec
                    except ValueError:
                        pass
        self._loaded = True

    @property
    def volume_name(self) -> str:
        """The root folder's name, as POSIX text."""
        self._load()
        return hfsuni.to_posix_name(self._volume_name)

    def _xattrs(self, file_id: int) -> dict[str, bytes]:
        if self.attributes is None:
            return {}
        if not hasattr(self, "_attr_index"):
            index: dict[int, dict[str, bytes]] = {}
            total = 0
            for node, i, rec in self.attributes.leaf_records():
                off = node.offset + node.record_offsets[i]
                where = f"attributes B-tree node {node.number} record {i}"
                key, data = split_key(rec, "attributes", self.name, node, i,
                                      ATTR_MAX_KEY_LENGTH)
                try:
                    fid, _start, raw = parse_attr_key(key)
                    (rtype,) = struct.unpack_from(">I", data)
                    if rtype == ATTR_INLINE_DATA:
                        head_size = AttrInlineHead.struct_size()
                        size = AttrInlineHead.parse(data).attrSize
                        if head_size + size > len(data):
                            raise ValueError(f"inline data of {size} bytes exceeds the record")
                        value = data[head_size:head_size + size]
                    elif rtype == ATTR_FORK_DATA:
                        value = self._attr_fork(data, fid, where, off, total)
                    else:
                        continue   # extents continuation records
                except (ValueError, struct.error) as exc:
                    raise CorruptError(self.name, where, str(exc), off) from None
                total += len(value)
                if total > MAX_ATTRIBUTES_TOTAL:
                    raise self._too_much_attribute_data(where, off)
                attr_name = hfsuni.decode_name(raw)
                try:
                    attr_name.encode("utf-8")
                except UnicodeEncodeError:
                    raise CorruptError(self.name, f"{where} key", "attribute name is not "
                                       "valid UTF-16 (unpaired surrogate)", off) from None
                index.setdefault(fid, {})[attr_name] = value
            self._attr_index = index
        return self._attr_index.get(file_id, {})

    def _too_much_attribute_data(self, where: str, off: int) -> CorruptError:
        return CorruptError(self.name, where, "extended attributes hold more than "
                            f"{MAX_ATTRIBUTES_TOTAL} bytes in total", off)

    def _attr_fork(self, data: bytes, fid: int, where: str, off: int, total: int) -> bytes:
        fork = ForkData.parse(data, 8)
        check_fork(fork, self.vh, self.name, where, off)
        if fork.logicalSize > MAX_ATTRIBUTE_SIZE:
            raise CorruptError(self.name, where, f"attribute of {fork.logicalSize} bytes is "
                               "larger than this reader accepts", off)
        if total + fork.logicalSize > MAX_ATTRIBUTES_TOTAL:
            raise self._too_much_attribute_data(where, off)
        runs = fork_byte_runs(fork.used_extents(), self.vh.blockSize, fork.logicalSize)
        return ForkStream(self.source, runs, fork.logicalSize).read()

    def _make_entry(self, path: str, rec: object) -> Entry:
        if isinstance(rec, FolderRecord):
            b = rec.bsdInfo
            mode = b.fileMode or (stat.S_IFDIR | 0o755)
            return Entry(path, "dir", rec.folderID, mode, b.ownerID, b.groupID,
                         unix_date(rec.createDate), unix_date(rec.contentModDate),
                         unix_date(rec.accessDate), unix_date(rec.attributeModDate),
                         unix_date(rec.backupDate), rec.flags,
                         struct.unpack_from(">H", rec.userInfo, 8)[0],
                         xattrs=self._xattrs(rec.folderID), valence=rec.valence,
                         _finder_info=rec.userInfo + rec.finderInfo)
        assert isinstance(rec, FileRecord)
        data_rec = rec
        inode = None
        nlink = 1
        if rec.fileType == TYPE_HARDLINK and rec.fileCreator == CREATOR_HFSPLUS \
                and rec.bsdInfo.special in self._inodes:
            inode = rec.bsdInfo.special
            data_rec = self._inodes[inode]
            nlink = max(1, data_rec.bsdInfo.special)
        b = data_rec.bsdInfo
        is_link = stat.S_ISLNK(b.fileMode) or (b.fileMode == 0
                                               and data_rec.fileType == TYPE_SYMLINK)
        for label, fork in (("dataFork", data_rec.dataFork),
                            ("resourceFork", data_rec.resourceFork)):
            check_fork(fork, self.vh, self.name, f"catalog file record {path!r}.{label}", None)
        mode = b.fileMode or (stat.S_IFREG | 0o644)
        entry = Entry(path, "symlink" if is_link else "file", data_rec.fileID, mode,
                      b.ownerID, b.groupID, unix_date(data_rec.createDate),
                      unix_date(data_rec.contentModDate),
                      unix_date(data_rec.accessDate), unix_date(data_rec.attributeModDate),
                      unix_date(data_rec.backupDate), rec.flags, rec.finderFlags,
                      _fourcc(data_rec.fileType), _fourcc(data_rec.fileCreator),
                      xattrs=dict(self._xattrs(data_rec.fileID)),
                      data_size=data_rec.dataFork.logicalSize,
                      rsrc_size=data_rec.resourceFork.logicalSize,
                      hardlink_inode=inode, nlink=nlink)
        entry._data_fork = data_rec.dataFork
        entry._rsrc_fork = data_rec.resourceFork
        entry._fork_owner = data_rec.fileID
        finder = data_rec.userInfo + data_rec.finderInfo
        if is_link and finder[:8] == TYPE_SYMLINK + CREATOR_SYMLINK:
            # slnk/rhap is how HFS+ marks a link, not Finder info of the user's.
            finder = bytes(8) + finder[8:]
        entry._finder_info = finder
        entry.bsd_flags = b.adminFlags << 16 | b.ownerFlags
        if b.ownerFlags & decmpfs.UF_COMPRESSED and decmpfs.XATTR_NAME in entry.xattrs \
                and not is_link:
            # macOS shows a compressed file's uncompressed size and hides the
            # decmpfs attribute and the resource fork holding the chunks.
            value = entry.xattrs.pop(decmpfs.XATTR_NAME)
            ctype, entry.data_size = decmpfs.parse_header(
                value, self.name, f"catalog file record {path!r}")
            entry.compression = decmpfs.method_name(ctype)
            entry._decmpfs = value
            if ctype in decmpfs.RSRC_TYPES:
                entry.rsrc_size = 0
        if is_link:
            if entry.data_size > MAX_LINK_TARGET:
                raise CorruptError(self.name, f"catalog file record {path!r}.dataFork",
                                   f"symbolic link target of {entry.data_size} bytes")
            raw = self.open(entry).read()
            if b"\0" in raw:
                # symlink(2) takes a C string: no system can have made this.
                raise CorruptError(self.name, f"catalog file record {path!r}.dataFork",
                                   "symbolic link target contains a NUL byte")
            entry.link_target = raw.decode("utf-8", "surrogateescape")
        return entry

    def root(self) -> Entry:
        """The root folder itself (path ""): its Finder info carries the
        volume's custom-icon flag."""
        self._load()
        return self._make_entry("", self._root_record)

    def entries(self, include_private: bool = False,
                hide_journal: bool = False) -> Iterator[Entry]:
        """Every file, folder and symlink below the root, depth first, in catalog order.

        The private hard-link folders are skipped unless ``include_private``;
        with ``hide_journal`` the journal files of a journaled volume are
        skipped too, as macOS hides them (7-Zip and libfshfs show them).
        """
        self._load()
        hidden = HIDDEN_ROOT_NAMES
        if hide_journal and self.journal != "none":
            hidden += JOURNAL_FILE_NAMES
        stack: list[tuple[int, str, int]] = [(CNID_ROOT_FOLDER, "", 0)]
        visited = {CNID_ROOT_FOLDER}
        while stack:
            folder_id, prefix, depth = stack.pop()
            subdirs = []
            for name, rec in self._children(folder_id):
                if folder_id == CNID_ROOT_FOLDER and name in hidden and not include_private:
                    continue
                posix = hfsuni.to_posix_name(name)
                if posix in ("", ".", "..") or "\0" in posix and not include_private:
                    raise CorruptError(self.name, f"catalog record in folder {folder_id}",
                                       f"unusable file name {posix!r}")
                try:
                    posix.encode("utf-8")
                except UnicodeEncodeError:
                    raise CorruptError(self.name, f"catalog record in folder {folder_id}",
                                       f"file name {posix!r} is not valid UTF-16 (unpaired "
                                       "surrogate)") from None
                path = prefix + posix
                if len(path) > MAX_PATH_CHARS:
                    raise UnsupportedError(
                        f"{self.name}: catalog record in folder {folder_id}: path "
                        f"{path[:60]!r}... is {len(path)} characters long; paths longer than "
                        f"{MAX_PATH_CHARS} cannot be opened on Linux or macOS")
                entry = self._make_entry(path, rec)
                yield entry
                if isinstance(rec, FolderRecord):
                    if rec.folderID in visited or depth > 4096:
                        raise CorruptError(self.name, f"catalog folder record {path!r}",
                                           f"folder {rec.folderID} appears twice (cycle)")
                    visited.add(rec.folderID)
                    subdirs.append((rec.folderID, path + "/", depth + 1))
            stack.extend(reversed(subdirs))

    # --- data -------------------------------------------------------------------

    def open(self, entry: Entry, fork: str = "data") -> io.RawIOBase:
        """A streaming reader of an entry's data (or resource) fork.

        The data of an HFS+-compressed file is decompressed on the fly.
        """
        if fork == "data" and entry._decmpfs is not None:
            rsrc = self.open(entry, "rsrc")
            return decmpfs.DecmpfsStream(entry._decmpfs, rsrc, entry._rsrc_fork.logicalSize,
                                         self.name, f"catalog file record {entry.path!r}")
        return ForkStream(self.source, self.fork_runs(entry, fork),
                          entry.fork_record(fork).logicalSize)

    def fork_extents(self, entry: Entry, fork: str = "data") -> list[tuple[int, int]]:
        """(start block, block count) extents of a fork, overflow records included."""
        fk = entry.fork_record(fork)
        if fk is None:
            raise InputError(f"{self.name}: {entry.path}: not a file")
        ftype = FORK_DATA_TYPE if fork == "data" else FORK_RSRC_TYPE
        return fork_extents(fk, self.vh, self.name, f"catalog file record {entry.path!r}."
                            f"{fork}Fork", entry.fork_owner, ftype, self.overflow.lookup)

    def fork_runs(self, entry: Entry, fork: str = "data") -> list[tuple[int, int]]:
        """(volume byte offset, length) runs holding a fork's logical bytes."""
        return fork_byte_runs(self.fork_extents(entry, fork), self.vh.blockSize,
                              entry.fork_record(fork).logicalSize)
