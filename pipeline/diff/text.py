"""The report for a person, and the exit status."""

from __future__ import annotations

import datetime
import textwrap
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


def fmt_value(v: Any, field: str = "") -> str:
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
        lines.append(f"  {d['field']}: {fmt_value(d['a'])} != {fmt_value(d['b'])}"
                     + (f" ({d['detail']})" if d.get("detail") else ""))
    for side in ("a", "b"):
        for label in c[f"partitions_only_in_{side}"]:
            lines.append(f"  only in {side.upper()}: {label}")
    for p in c["partitions"]:
        head = p["a"] if p["a"] == p["b"] else f"{p['a']} / {p['b']}"
        body = [f"{d['field']}: {fmt_value(d['a'])} != {fmt_value(d['b'])}" for d in p["fields"]]
        ch = p["chunks"]
        if "count" in ch:
            body.append(f"chunk count: {ch['count']['a']} != {ch['count']['b']}")
        if "layout_differs" in ch:
            x = ch["layout_differs"]
            body.append(f"chunk layout from chunk {x['chunk']}: {fmt_value(x['a'])} != {fmt_value(x['b'])}")
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
            lines.append(f"  {d['field']}: {fmt_value(d['a'])} != {fmt_value(d['b'])}")
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
            lines.append(f"    {d['field']}: {fmt_value(d['a'], d['field'])} != "
                         f"{fmt_value(d['b'], d['field'])}")
        tree = p.get("tree")
        if tree:
            lines += [f"    added: /{x}" for x in tree["added"]]
            lines += [f"    removed: /{x}" for x in tree["removed"]]
            lines += _grouped_metadata(tree["metadata"])
            for d in tree["data"]:
                fork = "" if d["fork"] == "data" else " (resource fork)"
                lines.append(f"    /{d['path']}{fork}: data differs from byte "
                             f"{d['first_difference']} (sizes {d['size'][0]} / {d['size'][1]})")
                if "macho" in d:
                    lines += ["      " + x for x in macho_lines(d["macho"])]
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


def macho_lines(m: dict) -> list[str]:
    """The Mach-O comparison of one file, most telling first."""
    out = [f"Mach-O: {m['first']}"]
    for d in m.get("universal", []):
        out.append(f"{d['field']}: {fmt_value(d['a'])} != {fmt_value(d['b'])}")
    for s in m.get("slices", []):
        arch = s["arch"]
        for d in s["header"]:
            out.append(f"{arch} {d['field']}: {fmt_value(d['a'])} != {fmt_value(d['b'])}")
        for sec in s["sections"][:20]:
            if "only_in" in sec:
                out.append(f"{arch} section {sec['section']}: only in {sec['only_in']}")
                continue
            text = (f"{arch} section {sec['section']}: differs from byte {sec['first_difference']}"
                    f" (address {sec['address'][0]:#x}; sizes {sec['size'][0]} / {sec['size'][1]})")
            if sec.get("strings"):
                text += f": {sec['strings'][0]!r} != {sec['strings'][1]!r}"
            out.append(text)
        for lc in s["load_commands"][:20]:
            for d in lc["fields"][:10]:
                out.append(f"{arch} load command {lc['index']} {d['field']}: "
                           f"{fmt_value(d['a'])} != {fmt_value(d['b'])}")
        for t in s["linkedit"]:
            out.append(f"{arch} {t['table']} data: differs from byte {t['first_difference']}")
        sym = s["symbols"]
        if sym:
            out.append(f"{arch} symbols: {sym['count'][0]} / {sym['count'][1]}"
                       + (f"; added {', '.join(sym['added'][:5])}" if sym["added"] else "")
                       + (f"; removed {', '.join(sym['removed'][:5])}" if sym["removed"] else "")
                       + "".join(f"; {c['symbol']} {c['field']} {c['a']:#x} != {c['b']:#x}"
                                 for c in sym["changed"][:5])
                       + (f"; {sym['order']}" if sym.get("order") else ""))
        sig = s["signature"]
        if "present" in sig:
            out.append(f"{arch} code signature: only in {'A' if sig['present'][0] else 'B'}")
        for d in sig.get("code_directory", []):
            out.append(f"{arch} signature {d['field']}: {fmt_value(d['a'])} != {fmt_value(d['b'])}")
        for d in sig.get("special_slots", []):
            out.append(f"{arch} signature slot {d['slot']} ({d['name']}) differs")
        pages = sig.get("code_slots", [])
        if pages:
            covers = sorted({c for p in pages for c in p["covers"]})
            out.append(f"{arch} signature: {len(pages) + sig.get('more_code_slots', 0)} page "
                       f"hash(es) differ, from page {pages[0]['page']}; they cover "
                       + ", ".join(covers[:6]) + (" ..." if len(covers) > 6 else ""))
        for problem in sig.get("problems", []):
            out.append(f"{arch} signature unreadable: {problem}")
    for problem in m.get("problems", []):
        out.append(f"unreadable: {problem}")
    return out


def _grouped_metadata(items: list[dict]) -> list[str]:
    """One line per (field, A value, B value), naming the paths it affects."""
    groups: dict[tuple, list[str]] = {}
    for m in items:
        key = (m["field"], fmt_value(m["a"], m["field"]), fmt_value(m["b"], m["field"]))
        groups.setdefault(key, []).append(m["path"])
    out = []
    for (field, a, b), paths in groups.items():
        shown = ", ".join("/" + p for p in paths[:3])
        if len(paths) > 3:
            shown += f" and {len(paths) - 3} more"
        out.append(f"    {field}: {a} != {b}: {shown}")
    return out


def format_summary(report: DiffReport, width: int = 100, height: int = 24) -> str:
    """The verdict and the most telling findings, wrapped to fit one screen."""
    r = report.to_json()
    # The report's summary starts with the verdict; the findings follow it.
    head, *findings = r["summary"]
    lines = [f"A: {r['a']}", f"B: {r['b']}", *textwrap.wrap(shown(head), width)]
    for item in findings:
        lines += textwrap.wrap(shown(item), width, initial_indent="  ",
                               subsequent_indent="      ", break_on_hyphens=False)
    if len(lines) > height:
        lines = lines[:height - 1] + [f"  ... {len(lines) - height + 1} more line(s): "
                                      "see the full report, --html or --json"]
    return "\n".join(shown(x) for x in lines)


def exit_status(report: DiffReport) -> int:
    return report.exit_status
