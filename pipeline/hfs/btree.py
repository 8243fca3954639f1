"""HFS+ B-trees (catalog, extents overflow, attributes): bottom-up builder
and a defensive reader.

Node layout (TN1150 "B-Trees"): a 14-byte node descriptor, records packed
upwards from byte 14, and a table of u16 record offsets growing down from
the end of the node, with one extra offset for the start of free space.
Node 0 is the header node: header record (106 bytes) at 14, user data
record (128 bytes) at 120, map record at 248 up to nodeSize - 8.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, Sequence

from ..binstruct import BinStruct, on_disk
from ..errors import CorruptError
from ..imagesource import ImageSource
from .spill import SpilledBytes

KIND_LEAF = -1
KIND_INDEX = 0
KIND_HEADER = 1
KIND_MAP = 2

USER_DATA_OFFSET = 120
USER_DATA_SIZE = 128
HEADER_MAP_OFFSET = 248

# Header attributes.
BT_BAD_CLOSE = 0x1
BT_BIG_KEYS = 0x2
BT_VARIABLE_INDEX_KEYS = 0x4

# keyCompareType of the catalog (TN1150 "HFSX").
COMPARE_CASE_FOLDING = 0xCF
COMPARE_BINARY = 0xBC

# No tree we read or write has nodes outside 512..32768 bytes (TN1150).
MIN_NODE_SIZE = 512
MAX_NODE_SIZE = 32768
# Apple's B-tree code allows 16 levels (kMaxTreeDepth); deeper is hostile.
MAX_TREE_DEPTH = 16


def header_map_bytes(node_size: int) -> int:
    return node_size - HEADER_MAP_OFFSET - 8


def map_node_bytes(node_size: int) -> int:
    # Apple BTreeAllocate.c: map node record = nodeSize - descriptor - 6.
    return node_size - NODE_DESCRIPTOR_SIZE - 6


@dataclass
class NodeDescriptor(BinStruct):
    """BTNodeDescriptor (14 bytes)."""

    fLink: int = on_disk("I", "fLink")
    bLink: int = on_disk("I", "bLink")
    kind: int = on_disk("b", "kind", KIND_LEAF)
    height: int = on_disk("B", "height")
    numRecords: int = on_disk("H", "numRecords")
    reserved: int = on_disk("H", "reserved")


@dataclass
class HeaderRecord(BinStruct):
    """BTHeaderRec (106 bytes)."""

    treeDepth: int = on_disk("H", "treeDepth")
    rootNode: int = on_disk("I", "rootNode")
    leafRecords: int = on_disk("I", "leafRecords")
    firstLeafNode: int = on_disk("I", "firstLeafNode")
    lastLeafNode: int = on_disk("I", "lastLeafNode")
    nodeSize: int = on_disk("H", "nodeSize", 4096)
    maxKeyLength: int = on_disk("H", "maxKeyLength")
    totalNodes: int = on_disk("I", "totalNodes")
    freeNodes: int = on_disk("I", "freeNodes")
    reserved1: int = on_disk("H", "reserved1")
    clumpSize: int = on_disk("I", "clumpSize")
    btreeType: int = on_disk("B", "btreeType")
    keyCompareType: int = on_disk("B", "keyCompareType")
    attributes: int = on_disk("I", "attributes")
    reserved3: bytes = on_disk("64s", "reserved3", bytes(64))


NODE_DESCRIPTOR_SIZE = NodeDescriptor.struct_size()
assert (NODE_DESCRIPTOR_SIZE, HeaderRecord.struct_size()) == (14, 106)


def pack_node(desc: NodeDescriptor, records: Sequence[bytes], node_size: int) -> bytes:
    """One node: descriptor, records, zeroed free space, offset table."""
    desc.numRecords = len(records)
    node = bytearray(node_size)
    node[:14] = desc.pack()
    pos = 14
    offsets = []
    for rec in records:
        offsets.append(pos)
        node[pos:pos + len(rec)] = rec
        pos += len(rec)
    offsets.append(pos)
    if pos + 2 * len(offsets) > node_size:
        raise ValueError("records overflow the node")
    for i, off in enumerate(offsets):
        struct.pack_into(">H", node, node_size - 2 * (i + 1), off)
    return bytes(node)


# --- builder -------------------------------------------------------------------

@dataclass
class BuiltTree:
    """A complete B-tree file: ``data`` is totalNodes x nodeSize bytes."""

    data: bytearray | SpilledBytes
    header: HeaderRecord
    node_count_used: int


def _level(records: Iterable[tuple[int, int]], node_size: int) -> tuple[list[int], list[int]]:
    """One level's nodes for (key length, record size) pairs: how many
    records each node holds (nodes are filled in order, each as full as it
    can get) and the key length of each node's first record."""
    counts: list[int] = []
    firsts: list[int] = []
    n = 0
    used = NODE_DESCRIPTOR_SIZE + 2          # descriptor + free-space offset
    for key_len, size in records:
        need = size + 2
        if NODE_DESCRIPTOR_SIZE + 2 + need > node_size:
            raise ValueError(f"a {size}-byte record cannot fit a {node_size}-byte node")
        if n and used + need > node_size:
            counts.append(n)
            n, used = 0, NODE_DESCRIPTOR_SIZE + 2
        if n == 0:
            firsts.append(key_len)
        n += 1
        used += need
    if n:
        counts.append(n)
    return counts, firsts


def tree_shape(sizes: Iterable[tuple[int, int]], *, node_size: int, max_key_length: int,
               attributes: int) -> list[list[int]]:
    """The record count of every node, level by level from the leaves, for
    leaf records of (key length, data length) in key order: the layout
    ``build_tree`` gives those records, known before any is packed.  Index
    records take their child's first key (at its own length with
    VariableIndexKeys, else padded to maxKeyLength) and a 4-byte pointer.
    Only each node's first key length is kept, not every record's."""
    counts, first = _level(((k, k + d) for k, d in sizes), node_size)
    if not counts:
        return []                     # an empty tree: the header node only
    levels = [counts]
    while len(levels[-1]) > 1:
        counts, first = _level(
            ((k, (k if attributes & BT_VARIABLE_INDEX_KEYS else 2 + max_key_length) + 4)
             for k in first), node_size)
        levels.append(counts)
    return levels


def _node_totals(shape: list[list[int]], node_size: int, min_bytes: int,
                 block_size: int) -> tuple[int, int, int]:
    """(nodes in use before the map, map nodes, total nodes) of a tree."""
    used_nodes = 1 + sum(len(level) for level in shape)
    unit = max(node_size, block_size)
    total = max(used_nodes, (min_bytes + node_size - 1) // node_size)
    total = -(-total * node_size // unit) * unit // node_size
    map_nodes = 0
    while header_map_bytes(node_size) * 8 + map_nodes * map_node_bytes(node_size) * 8 < total:
        map_nodes += 1
        total = max(total, used_nodes + map_nodes)
        total = -(-total * node_size // unit) * unit // node_size
    return used_nodes, map_nodes, total


def tree_bytes(shape: list[list[int]], *, node_size: int, min_bytes: int = 0,
               block_size: int = 4096) -> int:
    """The size of the B-tree file ``build_tree`` writes for ``shape``."""
    return _node_totals(shape, node_size, min_bytes, block_size)[2] * node_size


def build_tree(leaf_records: Iterable[tuple[bytes, bytes]], *, node_size: int,
               max_key_length: int, attributes: int, key_compare_type: int = 0,
               min_bytes: int = 0, block_size: int = 4096,
               shape: list[list[int]] | None = None,
               spill_over: int | None = None, what: str = "B-tree") -> BuiltTree:
    """Build a B-tree bottom-up from (key, data) pairs already in key order.

    Keys include their u16 keyLength.  Index records use the full key of
    their child's first record (VariableIndexKeys), or a key padded to
    maxKeyLength when that attribute is clear.  Nodes are numbered: header
    0, leaves 1..L in order, then each index level, root last; map nodes
    (only for huge trees) follow.  Unused nodes stay all zero.

    With ``shape`` (``tree_shape`` of the records' sizes) the records may be
    an iterator: each leaf node is packed as its records arrive, so the
    records are never all held at once.  A tree larger than ``spill_over``
    bytes is written to a temporary file (``SpilledBytes``, named ``what``
    in errors) instead of memory.
    """
    if shape is None:
        leaf_records = list(leaf_records)
        shape = tree_shape(((len(k), len(d)) for k, d in leaf_records), node_size=node_size,
                           max_key_length=max_key_length, attributes=attributes)
    used_nodes, map_nodes, total = _node_totals(shape, node_size, min_bytes, block_size)
    numbers: list[list[int]] = []
    next_no = 1
    for level in shape:
        numbers.append(list(range(next_no, next_no + len(level))))
        next_no += len(level)
    map_numbers = list(range(used_nodes, used_nodes + map_nodes))
    in_use = used_nodes + map_nodes
    out: bytearray | SpilledBytes
    if spill_over is not None and total * node_size > spill_over:
        out = SpilledBytes(total * node_size, what)

        def store(no: int, node: bytes) -> None:
            out.write_at(no * node_size, node)
    else:
        out = bytearray(total * node_size)

        def store(no: int, node: bytes) -> None:
            out[no * node_size:(no + 1) * node_size] = node

    def put(height: int, idx: int, recs: list[bytes]) -> None:
        nos = numbers[height - 1]
        desc = NodeDescriptor(fLink=nos[idx + 1] if idx + 1 < len(nos) else 0,
                              bLink=nos[idx - 1] if idx > 0 else 0,
                              kind=KIND_LEAF if height == 1 else KIND_INDEX, height=height)
        store(nos[idx], pack_node(desc, recs, node_size))

    records = iter(leaf_records)
    first_keys: list[bytes] = []
    leaf_count = 0
    for idx, count in enumerate(shape[0] if shape else []):
        recs = []
        for _ in range(count):
            key, data = next(records, (None, None))
            if key is None:
                raise ValueError("fewer records than the tree's shape holds")
            if not recs:
                first_keys.append(key)
            recs.append(key + data)
        leaf_count += count
        put(1, idx, recs)
    if next(records, None) is not None:
        raise ValueError("more records than the tree's shape holds")
    for height, counts in enumerate(shape[1:], start=2):
        index = []
        for key, child in zip(first_keys, numbers[height - 2]):
            if not attributes & BT_VARIABLE_INDEX_KEYS:
                key = struct.pack(">H", max_key_length) + key[2:].ljust(max_key_length, b"\0")
            index.append(key + struct.pack(">I", child))
        pos = 0
        new_first = []
        for idx, count in enumerate(counts):
            new_first.append(first_keys[pos])
            put(height, idx, index[pos:pos + count])
            pos += count
        first_keys = new_first

    header = HeaderRecord(
        treeDepth=len(shape),
        rootNode=numbers[-1][0] if shape else 0,
        leafRecords=leaf_count,
        firstLeafNode=numbers[0][0] if shape else 0,
        lastLeafNode=numbers[0][-1] if shape else 0,
        nodeSize=node_size, maxKeyLength=max_key_length,
        totalNodes=total, freeNodes=total - in_use,
        clumpSize=total * node_size, keyCompareType=key_compare_type,
        attributes=attributes)
    bitmap = bytearray((total + 7) // 8)
    for n in range(in_use):
        bitmap[n >> 3] |= 0x80 >> (n & 7)
    hm = header_map_bytes(node_size)
    store(0, pack_node(NodeDescriptor(fLink=map_numbers[0] if map_numbers else 0,
                                      kind=KIND_HEADER),
                       [header.pack(), bytes(USER_DATA_SIZE),
                        bytes(bitmap[:hm]).ljust(hm, b"\0")], node_size))
    mb = map_node_bytes(node_size)
    for k, no in enumerate(map_numbers):
        chunk = bytes(bitmap[hm + k * mb:hm + (k + 1) * mb]).ljust(mb, b"\0")
        desc = NodeDescriptor(fLink=map_numbers[k + 1] if k + 1 < len(map_numbers) else 0,
                              kind=KIND_MAP)
        store(no, pack_node(desc, [chunk], node_size))
    return BuiltTree(out, header, in_use)


# --- reader --------------------------------------------------------------------

@dataclass
class Node:
    number: int
    offset: int                      # byte offset of the node in the image
    descriptor: NodeDescriptor
    records: list[bytes] = field(default_factory=list)
    record_offsets: list[int] = field(default_factory=list)


class BTreeReader:
    """Reads one B-tree file of a volume, checking every node it touches.

    ``runs`` are the (image byte offset, byte length) pieces of the tree's
    fork, in file order.
    """

    def __init__(self, source: ImageSource, name: str, tree: str,
                 runs: list[tuple[int, int]]) -> None:
        self.source = source
        self.name = name
        self.tree = tree
        self.runs = runs
        self.size = sum(length for _, length in runs)
        if self.size < 512:
            raise CorruptError(name, f"{tree} B-tree", f"file of {self.size} bytes has no "
                               "room for a header node", runs[0][0] if runs else None)
        first = self._read(0, 512)
        desc = NodeDescriptor.parse(first)
        hdr = HeaderRecord.parse(first, 14)
        where = f"{tree} B-tree header node"
        if desc.kind != KIND_HEADER:
            raise CorruptError(name, f"{where}.kind", f"kind {desc.kind}, expected 1 (header)",
                               self._image_offset(8))
        ns = hdr.nodeSize
        if ns < MIN_NODE_SIZE or ns > MAX_NODE_SIZE or ns & (ns - 1):
            raise CorruptError(name, f"{where}.nodeSize", f"{ns} is not a power of two in "
                               f"{MIN_NODE_SIZE}..{MAX_NODE_SIZE}", self._image_offset(32))
        if hdr.totalNodes == 0 or hdr.totalNodes * ns > self.size:
            raise CorruptError(name, f"{where}.totalNodes", f"{hdr.totalNodes} nodes of {ns} "
                               f"bytes do not fit the {self.size}-byte file",
                               self._image_offset(36))
        for fname, value, off in (("rootNode", hdr.rootNode, 16),
                                  ("firstLeafNode", hdr.firstLeafNode, 24),
                                  ("lastLeafNode", hdr.lastLeafNode, 28)):
            if value >= hdr.totalNodes:
                raise CorruptError(name, f"{where}.{fname}", f"node {value} is past "
                                   f"totalNodes {hdr.totalNodes}", self._image_offset(off))
        self.header = hdr
        self.node_size = ns

    def _image_offset(self, file_offset: int) -> int:
        for start, length in self.runs:
            if file_offset < length:
                return start + file_offset
            file_offset -= length
        return -1

    def _read(self, file_offset: int, length: int) -> bytes:
        parts = []
        for start, run_len in self.runs:
            if length <= 0:
                break
            if file_offset >= run_len:
                file_offset -= run_len
                continue
            n = min(length, run_len - file_offset)
            parts.append(self.source.read(start + file_offset, n))
            length -= n
            file_offset = 0
        if length > 0:
            raise CorruptError(self.name, f"{self.tree} B-tree", "read past the end of the "
                               "tree file")
        return b"".join(parts)

    def node(self, number: int, expect_kind: int | None = None) -> Node:
        ns = self.node_size
        where = f"{self.tree} B-tree node {number}"
        if number >= self.header.totalNodes:
            raise CorruptError(self.name, where, f"node number past totalNodes "
                               f"{self.header.totalNodes}")
        raw = self._read(number * ns, ns)
        offset = self._image_offset(number * ns)
        desc = NodeDescriptor.parse(raw)
        if expect_kind is not None and desc.kind != expect_kind:
            raise CorruptError(self.name, f"{where}.kind", f"kind {desc.kind}, expected "
                               f"{expect_kind}", offset + 8)
        n = desc.numRecords
        if 14 + 2 * (n + 1) > ns:
            raise CorruptError(self.name, f"{where}.numRecords", f"{n} records cannot fit a "
                               f"{ns}-byte node", offset + 10)
        offs = [struct.unpack_from(">H", raw, ns - 2 * (i + 1))[0] for i in range(n + 1)]
        table_start = ns - 2 * (n + 1)
        prev = 13
        for i, off in enumerate(offs):
            if off <= prev or off & 1 or off > table_start:
                label = "free space offset" if i == n else f"record offset {i}"
                raise CorruptError(self.name, f"{where} {label}",
                                   f"{off} is not even, increasing and within 14..{table_start}",
                                   offset + ns - 2 * (i + 1))
            prev = off
        records = [raw[offs[i]:offs[i + 1]] for i in range(n)]
        return Node(number, offset, desc, records, offs[:n])

    def leaf_nodes(self) -> Iterator[Node]:
        """Leaf nodes in key order, following fLink from firstLeafNode.

        A chain longer than totalNodes or revisiting a node is a cycle.
        """
        if self.header.treeDepth == 0 or self.header.leafRecords == 0 and \
                self.header.firstLeafNode == 0:
            return
        for _prev, node in self._leaf_chain(self.header.firstLeafNode):
            yield node

    def _leaf_chain(self, number: int) -> Iterator[tuple[int, Node]]:
        """(the node whose fLink led here, leaf node) from leaf ``number`` on;
        a node visited twice is a cycle."""
        seen: set[int] = set()
        prev = 0
        while number:
            if number in seen:
                raise CorruptError(self.name, f"{self.tree} B-tree node {prev}.fLink",
                                   f"cyclic leaf chain: node {number} visited twice",
                                   self._image_offset(prev * self.node_size))
            seen.add(number)
            node = self.node(number, KIND_LEAF)
            yield prev, node
            prev, number = number, node.descriptor.fLink

    def leaf_records(self) -> Iterator[tuple[Node, int, bytes]]:
        for node in self.leaf_nodes():
            for i, rec in enumerate(node.records):
                yield node, i, rec

    def records_from(self, before: Callable[[bytes], bool], max_key_length: int
                     ) -> Iterator[tuple[Node, int, bytes]]:
        """Leaf records in key order from the first whose key (keyLength
        included) is not ``before``: ``before`` is true of every key that
        sorts ahead of the wanted range.  The index is descended from the
        root, so a range costs a few nodes, not the tree; the caller stops
        when its range ends."""
        hdr = self.header
        if hdr.treeDepth == 0 or hdr.leafRecords == 0 and hdr.firstLeafNode == 0:
            return
        number = hdr.rootNode
        for _level in range(min(hdr.treeDepth, MAX_TREE_DEPTH)):
            node = self.node(number)
            if node.descriptor.kind == KIND_LEAF:
                break
            if node.descriptor.kind != KIND_INDEX or not node.records:
                raise CorruptError(self.name, f"{self.tree} B-tree node {number}",
                                   f"kind {node.descriptor.kind} with {len(node.records)} "
                                   "records where an index node was expected", node.offset + 8)
            child = None
            for i, rec in enumerate(node.records):
                key, rest = split_key(rec, self.tree, self.name, node, i, max_key_length)
                if len(rest) < 4:
                    raise CorruptError(self.name, f"{self.tree} B-tree node {number} record {i}",
                                       "index record without a child pointer",
                                       node.offset + node.record_offsets[i])
                if child is not None and not before(key):
                    break
                child = struct.unpack_from(">I", rec, len(rec) - 4)[0]
            number = child
        else:
            raise CorruptError(self.name, f"{self.tree} B-tree header node.treeDepth",
                               f"index nodes deeper than treeDepth {hdr.treeDepth}",
                               self._image_offset(14 + 2))
        started = False
        for prev, node in self._leaf_chain(number):
            number = node.number
            for i, rec in enumerate(node.records):
                key, _ = split_key(rec, self.tree, self.name, node, i, max_key_length)
                if not before(key):
                    started = True
                    yield node, i, rec
                elif started:
                    # Keys went back: the chain leads to earlier nodes.
                    if i == 0 and number != prev:
                        raise CorruptError(self.name, f"{self.tree} B-tree node {prev}.fLink",
                                           f"cyclic leaf chain: node {number} holds keys that "
                                           f"sort before node {prev}'s",
                                           self._image_offset(prev * self.node_size))
                    raise CorruptError(self.name, f"{self.tree} B-tree node {number} record {i}",
                                       "keys out of order", node.offset + node.record_offsets[i])


def split_key(rec: bytes, tree: str, name: str, node: Node, index: int,
              max_key_length: int) -> tuple[bytes, bytes]:
    """(key incl. keyLength, data) of a leaf record, with keyLength checked."""
    if len(rec) < 2:
        raise CorruptError(name, f"{tree} B-tree node {node.number} record {index}",
                           "record shorter than its key length field",
                           node.offset + node.record_offsets[index])
    (klen,) = struct.unpack_from(">H", rec)
    if klen > max_key_length or 2 + klen > len(rec):
        raise CorruptError(name, f"{tree} B-tree node {node.number} record {index}.keyLength",
                           f"{klen} exceeds maxKeyLength {max_key_length} or the record "
                           f"({len(rec)} bytes)", node.offset + node.record_offsets[index])
    return rec[:2 + klen], rec[2 + klen:]
