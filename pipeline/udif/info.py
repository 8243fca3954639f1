"""What ``hdiutil imageinfo`` reports, from our reader: format, codecs,
partitions with names and sector ranges, sizes, compression ratio,
checksums, segment id."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from ..errors import CorruptError
from ..textescape import shown
from .formats import READ_ONLY_FORMATS, FORMATS
from .koly import SECTOR, VARIANT_DEVICE, VARIANT_PARTITION
from .license import read_license
from .mish import CHUNK_IGNORE, CHUNK_NAMES, CHUNK_RAW, CHUNK_ZERO, NO_DATA_CHUNKS
from .partitions import read_partition_map

if TYPE_CHECKING:
    from .reader import UDIFImage

FORMAT_DESCRIPTIONS = {
    "UDRO": "UDIF read-only",
    "UDZO": "UDIF read-only compressed (zlib)",
    "UDBZ": "UDIF read-only compressed (bzip2)",
    "ULFO": "UDIF read-only compressed (lzfse)",
    "ULMO": "UDIF read-only compressed (lzma)",
    "UDCO": "UDIF read-only compressed (ADC)",
}
_FORMAT_BY_CHUNK = {f.chunk_type: f.name for f in FORMATS.values()}
_FORMAT_BY_CHUNK.update(READ_ONLY_FORMATS)


def _checksum(kind: int, bits: int, value: int | None) -> dict:
    if value is None:
        return {"type": "none" if kind == 0 else f"{kind}", "bits": bits, "value": None}
    return {"type": "CRC32", "bits": bits, "value": f"{value:08x}"}


def scheme_from_names(names: list[str]) -> str:
    """The partition scheme hdiutil's blkx names imply (docs/formats.md §2.4)."""
    joined = " ".join(names)
    if "GPT" in joined:
        return "gpt"
    if "DDM" in joined or "Apple_partition_map" in joined:
        return "apm"
    if "(MBR" in joined:
        return "mbr"
    return "none"


def image_format(image: UDIFImage) -> tuple[str, list[str]]:
    """hdiutil's format name, and the codecs of the chunks that hold data."""
    counts: dict[int, int] = {}
    for part in image.partitions:
        for c in part.table.chunks:
            if c.type not in NO_DATA_CHUNKS:
                counts[c.type] = counts.get(c.type, 0) + 1
    compressed = {t: n for t, n in counts.items() if t != CHUNK_RAW}
    if compressed:
        best = max(sorted(compressed), key=lambda t: compressed[t])
        fmt = _FORMAT_BY_CHUNK.get(best, "unknown")
    else:
        fmt = "UDRO"
    return fmt, sorted(CHUNK_NAMES[t] for t in counts)


def image_info(image: UDIFImage, display_path: str | None = None) -> dict:
    koly = image.koly
    fmt, codec_names = image_format(image)
    partitions = []
    empty = 0
    for part in image.partitions:
        chunk_counts: dict[str, int] = {}
        for c in part.table.chunks:
            chunk_counts[c.type_name] = chunk_counts.get(c.type_name, 0) + 1
            if c.type in (CHUNK_ZERO, CHUNK_IGNORE):
                empty += c.sector_count * SECTOR
        partitions.append({
            "index": part.index, "id": part.id, "name": part.name,
            "first_sector": part.first_sector, "sector_count": part.sector_count,
            "last_sector": part.first_sector + part.sector_count - 1 if part.sector_count else None,
            "checksum": _checksum(part.table.checksum_type, part.table.checksum_size,
                                  part.table.crc32),
            "chunks": dict(sorted(chunk_counts.items())),
        })
    expanded = image.size
    scheme = scheme_from_names([p.name for p in image.partitions])
    try:
        map_scheme, entries, problems = read_partition_map(image.disk_source())
        partition_map = {"scheme": map_scheme, "entries": [e.to_json() for e in entries],
                         "problems": problems}
    except CorruptError as exc:
        partition_map = {"scheme": "unreadable", "entries": [], "problems": [str(exc)]}
    variant = {VARIANT_DEVICE: "device", VARIANT_PARTITION: "partition"}.get(
        koly.image_variant, str(koly.image_variant))
    return {
        "path": display_path if display_path is not None else str(image.path),
        "format": fmt,
        "format_description": FORMAT_DESCRIPTIONS.get(fmt, fmt),
        "codecs": codec_names,
        "segment_id": str(uuid.UUID(bytes=koly.segment_id)).upper(),
        "koly": {"version": koly.version, "flags": koly.flags, "image_variant": variant,
                 "segment_number": koly.segment_number, "segment_count": koly.segment_count},
        "checksums": {
            "data_fork": _checksum(koly.data_checksum_type, koly.data_checksum_size,
                                   koly.data_crc32),
            "master": _checksum(koly.master_checksum_type, koly.master_checksum_size,
                                koly.master_crc32),
        },
        "sizes": {
            "file_bytes": image.file_size,
            "compressed_bytes": koly.data_fork_length,
            "property_list_bytes": koly.xml_length,
            "sector_count": image.sector_count,
            "total_bytes": expanded,
            "total_empty_bytes": empty,
            "total_non_empty_bytes": expanded - empty,
            "compression_ratio": round(koly.data_fork_length / expanded, 6) if expanded else None,
        },
        "partition_scheme": scheme,
        "partitions": partitions,
        "partition_map": partition_map,
        "resources": sorted(["blkx", *image.resources.others]),
        "license": _license(image),
        # Sparse bundle, encryption, sparse image around the UDIF image, outermost first.
        "container": image.container.layers,
        "code_signature": _code_signature(image),
    }


def _license(image: UDIFImage) -> dict | None:
    """The licence agreement's languages, when the image has one."""
    found = read_license(image.resources.others, str(image.path))
    if found is None:
        return None
    default, entries = found
    return {"default_region": default, "languages": [e.to_json() for e in entries]}


def _code_signature(image: UDIFImage) -> dict | None:
    """Where the image's own code signature is (koly codeSignatureOffset/Length),
    if it has one; the command line adds what the signature says."""
    koly = image.koly
    if not koly.code_signature_length:
        return None
    return {"offset": koly.code_signature_offset, "length": koly.code_signature_length}


def format_info(info: dict) -> str:
    """Human-readable text, in the spirit of hdiutil imageinfo."""
    s = info["sizes"]
    lines = [
        f"Image: {info['path']}",
        f"Format: {info['format']} ({info['format_description']})",
        f"Codecs: {', '.join(info['codecs']) or 'none'}",
        f"Segment ID: {info['segment_id']}",
        f"Data fork checksum: {_fmt_ck(info['checksums']['data_fork'])}",
        f"Master checksum: {_fmt_ck(info['checksums']['master'])}",
        f"Sectors: {s['sector_count']} ({s['total_bytes']} bytes; "
        f"{s['total_empty_bytes']} empty)",
        f"Compressed: {s['compressed_bytes']} bytes (ratio {s['compression_ratio']})",
        f"Code signature: {_fmt_signature(info['code_signature'])}",
        f"Licence agreement: {_fmt_license(info['license'])}",
        f"Container: {describe_container(info['container'])}",
        f"Partition scheme: {info['partition_scheme']}",
        "Partitions:",
    ]
    for p in info["partitions"]:
        lines.append(f"  {p['id']:>3}  {p['first_sector']:>10}  {p['sector_count']:>10}  "
                     f"{_fmt_ck(p['checksum'])}  {p['name']}")
    # Partition names come from the image: no escape sequences on a terminal.
    return "\n".join(shown(line) for line in lines)


def format_container(info: dict) -> str:
    """A read/write (raw disk) image inside its container, as text."""
    layers = info["container"]
    lines = [f"Image: {info['path']}",
             f"Format: {info['format'] + ' holding a raw disk' if layers else 'raw disk'}",
             f"Container: {describe_container(layers) if layers else 'none'}",
             f"Disk: {info['disk_bytes']} bytes", f"Partition scheme: {info['partition_scheme']}",
             "Partitions:"]
    for p in info["partitions"]:
        lines.append(f"  {p['index']:>3}  {p['first_sector']:>10}  {p['sector_count']:>10}  "
                     f"{p['type']}  {p['name']}")
    lines += [f"Problem: {x}" for x in info["problems"]]
    return "\n".join(shown(line) for line in lines)


def describe_container(layers: list[dict]) -> str:
    if not layers:
        return "none (a plain UDIF file)"
    return " > ".join(", ".join(f"{k} {v}" for k, v in layer.items() if k != "layer")
                      .join((f"{layer['layer']} (", ")")) for layer in layers)


def _fmt_license(lic: dict | None) -> str:
    if lic is None:
        return "none"
    return ", ".join(f"{x['locale'] or 'region ' + str(x['region'])} ({x['kind']})"
                     for x in lic["languages"])


def _fmt_signature(sig: dict | None) -> str:
    if sig is None:
        return "none"
    text = f"{sig['length']} bytes at {sig['offset']}"
    if "cdhash" in sig:
        text += (f", identifier {sig['identifier']}, cdhash {sig['cdhash']}, "
                 + (f"signed by {sig['signer']}" if sig["signer"] else "ad hoc"))
    if sig.get("problems"):
        text += "; " + "; ".join(sig["problems"])
    return text


def _fmt_ck(ck: dict) -> str:
    return f"CRC32 ${ck['value'].upper()}" if ck["value"] else f"({ck['type']})"
