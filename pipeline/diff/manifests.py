"""The writer's manifest (``<image>.manifest.json``) beside each image,
when there is one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .common import field_diff


# The writer's manifest (``<image>.manifest.json``), when it sits beside an
# image: it names the codec implementations and versions and the level, which
# the image itself does not record.

MAX_MANIFEST = 1 << 20
MANIFEST_FIELDS = ("format", "level", "layout", "chunk_sectors", "expanded_sha256",
                   "expanded_size")


def _load_manifest(image_path: Path) -> dict | None:
    path = image_path.with_name(image_path.name + ".manifest.json")
    try:
        if not path.is_file() or path.stat().st_size > MAX_MANIFEST:
            return None
        data = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):   # deep nesting: RecursionError
        return None
    return data if isinstance(data, dict) else None


def compare_manifests(pa: Path, pb: Path) -> dict | None:
    ma, mb = _load_manifest(pa), _load_manifest(pb)
    if ma is None and mb is None:
        return None
    out: dict[str, Any] = {"a": ma is not None, "b": mb is not None, "fields": []}
    if ma is None or mb is None:
        return out
    for name in MANIFEST_FIELDS:
        if ma.get(name) != mb.get(name):
            out["fields"].append(field_diff(f"manifest.{name}", ma.get(name), mb.get(name)))
    ca, cb = ma.get("codecs"), mb.get("codecs")
    if isinstance(ca, dict) and isinstance(cb, dict):
        for codec in sorted(set(ca) | set(cb), key=str):
            if ca.get(codec) != cb.get(codec):
                out["fields"].append(field_diff(f"manifest.codecs.{codec}", ca.get(codec),
                                           cb.get(codec)))
    return out
