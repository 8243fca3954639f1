"""On-disk structures: parse() then pack() gives back the bytes macOS wrote
(hdiutil corpus), and the B-tree builder's layout rules hold, including
chained map nodes for trees larger than the header's map record."""

from __future__ import annotations

import struct

import pytest

from hfs_corpus import HFS_DMGS
from hfs_source import BytesSource
from pipeline.hfs.btree import (BT_BIG_KEYS, BT_VARIABLE_INDEX_KEYS, BTreeReader, HeaderRecord,
                                NodeDescriptor, build_tree, split_key, tree_bytes,
                                tree_shape)
from pipeline.hfs.reader import HFSReader
from pipeline.hfs.structs import (REC_FILE, REC_FILE_THREAD, REC_FOLDER, REC_FOLDER_THREAD,
                                  FileRecord, FolderRecord, ThreadRecord, VolumeHeader,
                                  record_type)
from pipeline.imagesource import FileImageSource


@pytest.mark.parametrize("name", HFS_DMGS)
def test_corpus_structures_round_trip(volumes, name):
    raw = volumes[name].read_bytes()
    assert VolumeHeader.parse(raw[1024:1536]).pack() == raw[1024:1536]
    with FileImageSource(volumes[name]) as src:
        reader = HFSReader(src, name)
        tree = reader.catalog
        header_node = tree.node(0)
        assert HeaderRecord.parse(header_node.records[0]).pack() == header_node.records[0]
        kinds = set()
        for node, i, rec in tree.leaf_records():
            assert NodeDescriptor.parse(raw, node.offset).pack() == raw[node.offset:node.offset + 14]
            _key, data = split_key(rec, "catalog", name, node, i, 516)
            rtype = record_type(data)
            kinds.add(rtype)
            cls = {REC_FOLDER: FolderRecord, REC_FILE: FileRecord,
                   REC_FOLDER_THREAD: ThreadRecord, REC_FILE_THREAD: ThreadRecord}[rtype]
            packed = cls.parse(data).pack()
            assert data[:len(packed)] == packed
            # Apple writes thread records at their real length too.
            assert len(packed) == len(data)
    assert kinds == {REC_FOLDER, REC_FILE, REC_FOLDER_THREAD, REC_FILE_THREAD}


def test_builder_chains_map_nodes_and_zeroes_free_space():
    node_size = 512                    # header map covers (512 - 256) x 8 = 2048 nodes
    recs = [(struct.pack(">HI", 6 + 8, i // 3) + struct.pack(">H", 4) + f"{i:04x}".encode("utf-16-be"),
             bytes(20)) for i in range(30000)]
    recs.sort(key=lambda r: r[0][2:])   # parentID, then the (equal-length) names
    built = build_tree(recs, node_size=node_size, max_key_length=516,
                       attributes=BT_BIG_KEYS | BT_VARIABLE_INDEX_KEYS, block_size=4096)
    data = built.data
    hdr = HeaderRecord.parse(data, 14)
    assert hdr.totalNodes * node_size == len(data) and hdr.totalNodes > 2048
    # Independent walk of the map: header map record, then map nodes via fLink.
    bits = bytearray(data[248:node_size - 8])
    n = struct.unpack_from(">I", data, 0)[0]
    map_nodes = []
    while n:
        map_nodes.append(n)
        node = data[n * node_size:(n + 1) * node_size]
        assert node[8] == 2 and struct.unpack_from(">H", node, 10)[0] == 1
        bits += node[14:node_size - 6]
        n = struct.unpack_from(">I", node, 0)[0]
    assert map_nodes
    used = [i for i in range(hdr.totalNodes) if bits[i >> 3] & (0x80 >> (i & 7))]
    assert len(used) == hdr.totalNodes - hdr.freeNodes
    for i in range(hdr.totalNodes):
        if i not in set(used):
            assert data[i * node_size:(i + 1) * node_size] == bytes(node_size), i
    # Every node's free space is zero.
    for i in used:
        node = data[i * node_size:(i + 1) * node_size]
        count = struct.unpack_from(">H", node, 10)[0]
        free_at = struct.unpack_from(">H", node, node_size - 2 * (count + 1))[0]
        assert node[free_at:node_size - 2 * (count + 1)] == bytes(node_size - 2 * (count + 1) - free_at)
    # Our reader walks the leaves back in order.
    reader = BTreeReader(BytesSource(data), "t", "test", [(0, len(data))])
    got = [rec for _node, _i, rec in reader.leaf_records()]
    assert got == [k + d for k, d in recs]
    assert hdr.leafRecords == len(recs) and 2 <= hdr.treeDepth <= 8


@pytest.mark.parametrize("attributes", [BT_BIG_KEYS | BT_VARIABLE_INDEX_KEYS, BT_BIG_KEYS])
def test_a_tree_shaped_from_sizes_is_the_tree_built_from_records(attributes):
    # The writer sizes the catalog from record lengths, then streams the
    # records into build_tree: same bytes as building from the list.
    recs = [(struct.pack(">HIH", 6 + 2 * (i % 40), i // 7, i % 40) + bytes(2 * (i % 40)),
             bytes(10 + i % 300)) for i in range(5000)]
    kwargs = dict(node_size=4096, max_key_length=516, attributes=attributes, block_size=4096)
    built = build_tree(recs, **kwargs)
    shape = tree_shape(((len(k), len(d)) for k, d in recs), node_size=4096,
                       max_key_length=516, attributes=attributes)
    assert len(shape) > 2 and tree_bytes(shape, node_size=4096) == len(built.data)
    assert build_tree(iter(recs), shape=shape, **kwargs).data == built.data
    with pytest.raises(ValueError, match="fewer records"):
        build_tree(iter(recs[:-1]), shape=shape, **kwargs)
    with pytest.raises(ValueError, match="more records"):
        build_tree(iter(recs + recs[-1:]), shape=shape, **kwargs)


def test_empty_tree_has_depth_and_root_zero():
    built = build_tree([], node_size=4096, max_key_length=10, attributes=BT_BIG_KEYS)
    hdr = HeaderRecord.parse(built.data, 14)
    assert (hdr.treeDepth, hdr.rootNode, hdr.firstLeafNode, hdr.lastLeafNode) == (0, 0, 0, 0)
    assert hdr.totalNodes == 1 and hdr.freeNodes == 0


@pytest.mark.parametrize("size, expected_clump", [(499 << 20, None), (501 << 20, 1 << 20)])
def test_catalog_clump_size_follows_fsck_rule_for_large_volumes(size, expected_clump):
    # fsck_hfs (SVerify1.c / SVerify2.c) wants the catalog clump size to be at
    # least 1 MiB on volumes over 500 MiB and reports "Invalid file clump size"
    # otherwise; smaller volumes keep the catalog's own length.
    from pipeline.hfs.tree import Tree
    from pipeline.hfs.writer import build_volume
    vol = build_volume(Tree(), volname="v", size=size, epoch=0)
    vh = VolumeHeader.parse(vol.read(1024, 512))
    catalog = vh.catalogFile
    assert catalog.clumpSize % vh.blockSize == 0
    if expected_clump is None:
        assert catalog.clumpSize == catalog.logicalSize
    else:
        assert catalog.clumpSize == expected_clump >= catalog.logicalSize
