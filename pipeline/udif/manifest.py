"""The manifest written next to every image: what made the bytes.

Codec names with their implementation and version (a builder with another
libbz2 may get other UDBZ bytes: the manifest says why), the SHA-256 of the
image file, and the SHA-256 of the expanded disk, a digest independent of
the compressor that lets builders compare content across codec versions.
No paths, host names or times.
"""

from __future__ import annotations

import os

from ..atomic import atomic_write_bytes
from .. import codecs
from ..jsonfile import canonical_json
from .mish import CHUNK_SECTORS

MANIFEST_VERSION = 1


def build_manifest(image_name: str, fmt: str, level: int | None, layout: str,
                   result: dict) -> dict:
    return {
        "manifest_version": MANIFEST_VERSION,
        "image": image_name,
        "format": fmt,
        "level": level,
        "layout": layout,
        "chunk_sectors": CHUNK_SECTORS,
        "codecs": {name: codecs.implementation(name) for name in result["codecs"]},
        "sha256": result["file_sha256"],
        "size": result["file_size"],
        "expanded_sha256": result["expanded_sha256"],
        "expanded_size": result["expanded_size"],
        "segment_id": result["segment_id"],
        "chunks": result["chunks"],
        "data_fork_crc32": result.get("data_fork_crc32"),
        "master_crc32": result.get("master_crc32"),
    }


def manifest_bytes(manifest: dict) -> bytes:
    return canonical_json(manifest)


def write_manifest(path: str | os.PathLike, manifest: dict) -> None:
    atomic_write_bytes(path, manifest_bytes(manifest))
