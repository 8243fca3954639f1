"""The report for a person, and the exit status."""

from __future__ import annotations

import datetime
from typing import Any

from ..hfs.listing import shown
from ..hfs.structs import HFS_EPOCH_OFFSET
from .report import DiffReport


# Text rendering.

# Date fields: Unix seconds in catalog entries, HFS seconds (since 1904) in
# the volume header; the text report adds the UTC date.
_UNIX_DATES = {"create_date", "modify_date", "access_date", "attribute_mod_date",
               "backup_date"}
_HFS_DATES = {"createDate", "modifyDate", "backupDate", "checkedDate"}


def _fmt(v: Any, field: str = "") -> str:
    if v is None:
        return "-"
    name = field.rsplit(".", 1)[-1]
    if isinstance(v, int) and v and (name in _UNIX_DATES or name in _HFS_DATES):
        unix = v - HFS_EPOCH_OFFSET if name in _HFS_DATES else v
        when = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
        return f"{v} ({when:%Y-%m-%d %H:%M:%S})"
    return str(v)


def format_report(report: DiffReport) -> str:
    r = report.to_json()
    lines = [f"A: {r['a']}", f"B: {r['b']}"]
    if r["identical"]:
        lines.append("identical: the files are the same, byte for byte")
        return "\n".join(lines)
    f = r["file"]
    lines.append(f"files differ from byte {f['first_difference']} (A: {f['a']}; B: {f['b']}); "
                 f"sizes {f['size'][0]} / {f['size'][1]}")
    lines.append("summary:")
    lines += [f"  {s}" for s in r["summary"]]
    c = r["container"]
    lines.append("container:")
    for d in c["koly"] + c["resources"]:
        lines.append(f"  {d['field']}: {_fmt(d['a'])} != {_fmt(d['b'])}"
                     + (f" ({d['detail']})" if d.get("detail") else ""))
    for side in ("a", "b"):
        for label in c[f"partitions_only_in_{side}"]:
            lines.append(f"  only in {side.upper()}: {label}")
    for p in c["partitions"]:
        head = p["a"] if p["a"] == p["b"] else f"{p['a']} / {p['b']}"
        body = [f"{d['field']}: {_fmt(d['a'])} != {_fmt(d['b'])}" for d in p["fields"]]
        ch = p["chunks"]
        if "count" in ch:
            body.append(f"chunk count: {ch['count']['a']} != {ch['count']['b']}")
        if "layout_differs" in ch:
            x = ch["layout_differs"]
            body.append(f"chunk layout from chunk {x['chunk']}: {_fmt(x['a'])} != {_fmt(x['b'])}")
        if "chunk_types" in ch:
            body.append(f"chunk types: {ch['chunk_types']['a']} != {ch['chunk_types']['b']}")
        if "level_hints" in ch:
            body.append(f"stream headers: {ch['level_hints']['a']} != {ch['level_hints']['b']}")
        for key, text in (("codec", "codec"), ("compressed_length", "compressed length")):
            for x in ch.get(key, {}).get("chunks", [])[:20]:
                body.append(f"chunk {x['chunk']}: {text} {x['a']} != {x['b']}")
        for x in ch.get("compressed_bytes", {}).get("chunks", [])[:20]:
            body.append(f"chunk {x['chunk']}: compressed bytes differ ({x['codec']}, "
                        f"{x['length']} bytes each)")
        if "compressed_offset" in ch:
            body.append(f"{ch['compressed_offset']['count']} chunk(s) at other file offsets")
        if body:
            lines.append(f"  {head}:")
            lines += [f"    {b}" for b in body]
    m = r.get("manifest")
    if m:
        if not (m["a"] and m["b"]):
            lines.append(f"  manifest (.manifest.json) only beside {'A' if m['a'] else 'B'}")
        for d in m["fields"]:
            lines.append(f"  {d['field']}: {_fmt(d['a'])} != {_fmt(d['b'])}")
    ct = r["content"]
    if r["verdict"] == "encoding":
        lines.append("content: the expanded disks are identical: the images differ only "
                     "in their encoding")
        return "\n".join(lines)
    lines.append("content:")
    if ct["sector_count"][0] != ct["sector_count"][1]:
        lines.append(f"  disk sectors: {ct['sector_count'][0]} != {ct['sector_count'][1]}")
    for p in ct["partitions"]:
        head = p["a"] if p["a"] == p["b"] else f"{p['a']} / {p['b']}"
        if p["equal"]:
            lines.append(f"  {head}: identical")
            continue
        fs = p.get("filesystem")
        lines.append(f"  {head}: {p['sectors']['sectors']} sector(s) differ"
                     + (f" ({fs[0]} / {fs[1]})" if isinstance(fs, list) else ""))
        for d in p.get("volume_header", []):
            lines.append(f"    {d['field']}: {_fmt(d['a'], d['field'])} != "
                         f"{_fmt(d['b'], d['field'])}")
        tree = p.get("tree")
        if tree:
            lines += [f"    added: /{x}" for x in tree["added"]]
            lines += [f"    removed: /{x}" for x in tree["removed"]]
            lines += _grouped_metadata(tree["metadata"])
            for d in tree["data"]:
                fork = "" if d["fork"] == "data" else " (resource fork)"
                lines.append(f"    /{d['path']}{fork}: data differs from byte "
                             f"{d['first_difference']} (sizes {d['size'][0]} / {d['size'][1]})")
            for key, n in tree["more"].items():
                if n:
                    lines.append(f"    ... {n} more {key} (see --json)")
        for problem in p.get("problems", []):
            lines.append(f"    unreadable: {problem}")
        if "blocks" in p:
            for b in p["blocks"][:50]:
                where = "; ".join(b["a"]) if b["a"] == b["b"] else \
                    f"A: {'; '.join(b['a'])} | B: {'; '.join(b['b'])}"
                b0, b1 = b["blocks"]
                blocks = f"block {b0}" if b0 == b1 else f"blocks {b0}-{b1}"
                lines.append(f"    {blocks} ({b['differing_sectors']} sector(s) differ "
                             f"from sector {b['first_sector']}): {where}")
            if len(p["blocks"]) > 50:
                lines.append(f"    ... {len(p['blocks']) - 50} more ranges (see --json)")
        else:
            for s in p["sectors"]["ranges"][:50]:
                lines.append(f"    sectors {s['first_sector']}+{s['sector_count']}")
        if p["sectors"]["truncated"] or len(p["sectors"]["ranges"]) > 50:
            lines.append("    ... more sector ranges (see --json)")
    # Paths, names and values come from the images: one line each, no
    # terminal escape sequences.
    return "\n".join(shown(line) for line in lines)


def _grouped_metadata(items: list[dict]) -> list[str]:
    """One line per (field, A value, B value), naming the paths it affects."""
    groups: dict[tuple, list[str]] = {}
    for m in items:
        key = (m["field"], _fmt(m["a"], m["field"]), _fmt(m["b"], m["field"]))
        groups.setdefault(key, []).append(m["path"])
    out = []
    for (field, a, b), paths in groups.items():
        shown = ", ".join("/" + p for p in paths[:3])
        if len(paths) > 3:
            shown += f" and {len(paths) - 3} more"
        out.append(f"    {field}: {a} != {b}: {shown}")
    return out


def exit_status(report: DiffReport) -> int:
    return report.exit_status
