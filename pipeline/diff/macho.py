"""The Mach-O level of a comparison: which header field, load command,
section, symbol, linkedit table or code-signature slot differs between two
builds of one executable.

Two builds of a binary that differ anywhere differ in their code signature
too (the page hashes follow the bytes), so the signature is reported last
and every differing page names the section it covers: the first real
difference is the section, load command or symbol, and ``first`` says it in
plain words.  Slices are paired by architecture.  Both files are held in
memory, so files above ``MAX_MACHO_DIFF`` get only the byte-level report.
"""

from __future__ import annotations

from typing import Any

from ..codesign.blobs import (CSSLOT_SIGNATURESLOT, SPECIAL_SLOT_NAMES, BlobContext,
                              CodeDirectory, SuperBlob)
from ..errors import ReprodmgError
from ..macho import MachOSlice, is_macho, parse_macho
from ..macho import structs
from .common import MAX_ITEMS, capped, field_diff, first_difference, show_value

MAX_MACHO_DIFF = 256 << 20      # bytes per side held in memory
MAX_SYMBOLS = 1 << 20           # symbol table entries read per slice
MAX_STRING = 160                # characters of a string shown around a difference

# CodeDirectory fields compared (attributes of codesign.blobs.CodeDirectory).
CD_FIELDS = ("version", "flags", "identifier", "team_id", "code_limit", "hash_type", "platform",
             "page_size_log2", "exec_seg_base", "exec_seg_limit", "exec_seg_flags", "runtime")


def read_if_macho(open_a, open_b, sizes: tuple[int, int]) -> tuple[bytes, bytes] | None:
    """Both files' bytes when both are Mach-O files small enough to hold;
    ``open_a``/``open_b`` return objects with ``read``."""
    if max(sizes) > MAX_MACHO_DIFF:
        return None
    fa, fb = open_a(), open_b()
    head_a, head_b = fa.read(8), fb.read(8)
    if not (is_macho(head_a) and is_macho(head_b)):
        return None
    return head_a + fa.read(sizes[0]), head_b + fb.read(sizes[1])


def compare_macho(a: bytes, b: bytes, path: str) -> dict[str, Any]:
    """The Mach-O report for two differing files named ``path``."""
    try:
        fa, fb = parse_macho(a, f"A: {path}"), parse_macho(b, f"B: {path}")
    except ReprodmgError as exc:
        return {"problems": [str(exc)], "first": f"{path}: not a readable Mach-O file: {exc}"}
    out: dict[str, Any] = {"archs": [[s.arch for s in fa.slices], [s.arch for s in fb.slices]],
                           "universal": [], "slices": []}
    if fa.fat is not None and fb.fat is not None:
        arch_b = {x.arch: x for x in fb.fat.archs}
        for x in fa.fat.archs:
            y = arch_b.get(x.arch)
            if y is not None:
                out["universal"] += [field_diff(f"fat_arch {x.arch}.{f.spec}",
                                                getattr(x, f.attribute), getattr(y, f.attribute))
                                     for f in x.disk_fields()
                                     if getattr(x, f.attribute) != getattr(y, f.attribute)]
    elif (fa.fat is None) != (fb.fat is None):
        out["universal"].append(field_diff("universal (fat) header", fa.fat is not None,
                                           fb.fat is not None))
    slices_b = {s.arch: s for s in fb.slices}
    for sa in fa.slices:
        sb = slices_b.get(sa.arch)
        if sb is not None and sa.data != sb.data:
            out["slices"].append(compare_slice(sa, sb))
    out["first"] = first_in_words(path, out)
    return out


def compare_slice(sa: MachOSlice, sb: MachOSlice) -> dict[str, Any]:
    """One architecture: header, load commands, section contents, linkedit
    tables, symbols, signature; and the first differing byte otherwise."""
    header = structs.MachHeader64 if sa.is64 else structs.MachHeader
    out: dict[str, Any] = {"arch": sa.arch, "size": [len(sa.data), len(sb.data)],
                           "header": _struct_diffs(header, sa.data, 0, sb.data, 0, "mach_header"),
                           "load_commands": _load_commands(sa, sb),
                           "sections": _sections(sa, sb),
                           "linkedit": _linkedit(sa, sb),
                           "symbols": _symbols(sa, sb),
                           "signature": _signature(sa, sb)}
    d = first_difference(sa.data, sb.data)
    out["first_difference"] = {"offset": d, "a": structure_at(sa, d) if d is not None else None,
                               "b": structure_at(sb, d) if d is not None else None}
    return out


# --------------------------------------------------------------------------
# Fields of structures.

def _struct_diffs(kind: type[structs.BinStruct], a: bytes, off_a: int, b: bytes, off_b: int,
                  prefix: str) -> list[dict]:
    size = kind.struct_size()
    if off_a + size > len(a) or off_b + size > len(b):
        return []
    x, y = kind.parse(a, off_a), kind.parse(b, off_b)
    out = []
    for f in kind.disk_fields():
        va, vb = getattr(x, f.attribute), getattr(y, f.attribute)
        if va != vb:
            out.append(field_diff(f"{prefix}.{f.spec}", _name_or_value(va), _name_or_value(vb)))
    return out


def _name_or_value(v: Any) -> Any:
    """segname/sectname read as text; other byte fields as hex (show_value)."""
    if isinstance(v, bytes) and v.rstrip(b"\0") and all(32 <= c < 127 for c in v.rstrip(b"\0")):
        return v.rstrip(b"\0").decode("ascii")
    return v


def _command_string(data: bytes, lc, name_offset: int) -> str | None:
    if not 0 < name_offset < lc.cmdsize:
        return None
    raw = data[lc.offset + name_offset:lc.offset + lc.cmdsize].split(b"\0", 1)[0]
    return raw.decode("utf-8", "backslashreplace")


def _load_commands(sa: MachOSlice, sb: MachOSlice) -> list[dict]:
    out = []
    if len(sa.load_commands) != len(sb.load_commands):
        out.append({"index": None, "command": "mach_header.ncmds",
                    "fields": [field_diff("load commands", len(sa.load_commands),
                                          len(sb.load_commands))]})
    for la, lb in zip(sa.load_commands, sb.load_commands):
        ra = sa.data[la.offset:la.offset + la.cmdsize]
        rb = sb.data[lb.offset:lb.offset + lb.cmdsize]
        if ra == rb:
            continue
        name = structs.load_command_name(la.cmd)
        entry: dict[str, Any] = {"index": la.index, "command": name, "fields": []}
        kind = structs.COMMAND_STRUCTS.get(la.cmd)
        if la.cmd != lb.cmd:
            entry["fields"].append(field_diff("cmd", name, structs.load_command_name(lb.cmd)))
        elif kind is not None and kind.struct_size() <= min(la.cmdsize, lb.cmdsize):
            entry["fields"] = _struct_diffs(kind, ra, 0, rb, 0, name)
            if la.cmd in (structs.LC_SEGMENT, structs.LC_SEGMENT_64):
                seg = kind.parse(ra)
                entry["segment"] = _name_or_value(seg.segname)
                entry["fields"] += _section_headers(la.cmd == structs.LC_SEGMENT_64, ra, rb, kind)
            elif issubclass(kind, (structs.DylibCommand, structs.StringCommand)):
                xa = _command_string(sa.data, la, kind.parse(ra).name_offset)
                xb = _command_string(sb.data, lb, kind.parse(rb).name_offset)
                if xa != xb:
                    entry["fields"].append(field_diff(f"{name} string", xa, xb))
        if not entry["fields"]:
            d = first_difference(ra, rb)
            entry["fields"].append({"field": f"{name} byte {d}", "a": ra[d:d + 8].hex(),
                                    "b": rb[d:d + 8].hex()})
        out.append(entry)
    return capped(out)[0]


def _section_headers(is64: bool, ra: bytes, rb: bytes, seg_kind) -> list[dict]:
    kind = structs.Section64 if is64 else structs.Section
    base, size = seg_kind.struct_size(), kind.struct_size()
    out = []
    for off in range(base, min(len(ra), len(rb)) - size + 1, size):
        sec = kind.parse(ra, off)
        label = f"section {_name_or_value(sec.segname)},{_name_or_value(sec.sectname)}"
        out += _struct_diffs(kind, ra, off, rb, off, label)
    return out


# --------------------------------------------------------------------------
# Contents.

def _section_list(sl: MachOSlice) -> dict[tuple[str, str], structs.Section]:
    return {(sec.segname, sec.sectname): sec for seg in sl.segments for sec in seg.sections}


def _is_zerofill(sec) -> bool:
    kind = sec.flags & 0xFF
    return kind in (structs.S_ZEROFILL, structs.S_THREAD_LOCAL_ZEROFILL, 0xC)   # 0xC: S_GB_ZEROFILL


def _sections(sa: MachOSlice, sb: MachOSlice) -> list[dict]:
    secs_a, secs_b = _section_list(sa), _section_list(sb)
    out = []
    for key, x in secs_a.items():
        y = secs_b.get(key)
        if y is None or _is_zerofill(x) or _is_zerofill(y):
            continue
        ca = sa.data[x.offset:x.offset + x.size]
        cb = sb.data[y.offset:y.offset + y.size]
        d = first_difference(ca, cb)
        if d is None:
            continue
        entry = {"section": f"{key[0]},{key[1]}", "size": [x.size, y.size], "first_difference": d,
                 "address": [x.addr + d, y.addr + d], "bytes": [ca[d:d + 16].hex(), cb[d:d + 16].hex()]}
        text_a, text_b = string_at(ca, d), string_at(cb, d)
        if text_a is not None or text_b is not None:
            entry["strings"] = [text_a, text_b]
        out.append(entry)
    only_a = sorted(set(secs_a) - set(secs_b))
    only_b = sorted(set(secs_b) - set(secs_a))
    out += [{"section": f"{s},{n}", "only_in": "A"} for s, n in only_a]
    out += [{"section": f"{s},{n}", "only_in": "B"} for s, n in only_b]
    return capped(out)[0]


def string_at(data: bytes, pos: int) -> str | None:
    """The printable NUL- or control-delimited run holding ``data[pos]``
    (paths and messages compiled into a binary), or None."""
    if pos >= len(data) or not _printable(data[pos]):
        return None
    start = pos
    while start > 0 and pos - start < MAX_STRING and _printable(data[start - 1]):
        start -= 1
    end = pos
    while end < len(data) and end - start < 2 * MAX_STRING and _printable(data[end]):
        end += 1
    if end - start < 4:
        return None
    return data[start:end].decode("utf-8", "backslashreplace")


def _printable(c: int) -> bool:
    return 32 <= c < 127 or c >= 0x80


def _linkedit(sa: MachOSlice, sb: MachOSlice) -> list[dict]:
    tables_b = {item.cmd: item for item in sb.linkedit_data}
    out = []
    for x in sa.linkedit_data:
        y = tables_b.get(x.cmd)
        if y is None or x.cmd == structs.LC_CODE_SIGNATURE:
            continue
        ca = sa.data[x.dataoff:x.dataoff + x.datasize]
        cb = sb.data[y.dataoff:y.dataoff + y.datasize]
        d = first_difference(ca, cb)
        if d is not None:
            out.append({"table": structs.load_command_name(x.cmd), "size": [x.datasize, y.datasize],
                        "first_difference": d})
    return out


def _symbol_table(sl: MachOSlice) -> list[tuple[str, int, int, int, int]] | None:
    for lc in sl.load_commands:
        if lc.cmd != structs.LC_SYMTAB:
            continue
        st = structs.SymtabCommand.parse(sl.data, lc.offset)
        kind = structs.Nlist64 if sl.is64 else structs.Nlist
        size = kind.struct_size()
        strings = sl.data[st.stroff:st.stroff + st.strsize]
        out = []
        for i in range(min(st.nsyms, MAX_SYMBOLS)):
            n = kind.parse(sl.data, st.symoff + i * size)
            name = strings[n.n_strx:].split(b"\0", 1)[0].decode("utf-8", "backslashreplace") \
                if n.n_strx < len(strings) else f"<n_strx {n.n_strx}>"
            out.append((name, n.n_type, n.n_sect, n.n_desc, n.n_value))
        return out
    return None


def _symbols(sa: MachOSlice, sb: MachOSlice) -> dict[str, Any]:
    xa, xb = _symbol_table(sa), _symbol_table(sb)
    if xa is None or xb is None or xa == xb:
        return {}
    names_a, names_b = {s[0] for s in xa}, {s[0] for s in xb}
    changed = []
    if [s[0] for s in xa] == [s[0] for s in xb]:
        for x, y in zip(xa, xb):
            for i, field in enumerate(("n_type", "n_sect", "n_desc", "n_value"), 1):
                if x[i] != y[i]:
                    changed.append({"symbol": x[0], "field": field, "a": x[i], "b": y[i]})
    out: dict[str, Any] = {"count": [len(xa), len(xb)],
                           "added": capped(sorted(names_b - names_a))[0],
                           "removed": capped(sorted(names_a - names_b))[0],
                           "changed": capped(changed)[0]}
    if not (out["added"] or out["removed"] or changed):
        out["order"] = "the same symbols in another order"
    return out


def _signature(sa: MachOSlice, sb: MachOSlice) -> dict[str, Any]:
    """CodeDirectory fields, special slots by name, and the code pages whose
    hashes differ with the section each page covers."""
    blob_a, blob_b = sa.signature_bytes(), sb.signature_bytes()
    if blob_a == blob_b:
        return {}
    # Space reserved for a signature and left zero is no signature.
    blob_a = blob_a if blob_a and any(blob_a) else None
    blob_b = blob_b if blob_b and any(blob_b) else None
    if blob_a is None or blob_b is None:
        return {"present": [blob_a is not None, blob_b is not None]}
    try:
        sup_a = SuperBlob.parse(blob_a, BlobContext(sa.path, sa.arch))
        sup_b = SuperBlob.parse(blob_b, BlobContext(sb.path, sb.arch))
        cds_a, cds_b = sup_a.code_directories(), sup_b.code_directories()
        if not cds_a or not cds_b:
            return {"problems": ["no CodeDirectory"]}
        cd_a = CodeDirectory.parse(cds_a[0][1], BlobContext(sa.path, sa.arch))
        cd_b = CodeDirectory.parse(cds_b[0][1], BlobContext(sb.path, sb.arch))
    except ReprodmgError as exc:
        return {"problems": [str(exc)]}
    out: dict[str, Any] = {
        "code_directory": [field_diff(f"CodeDirectory.{name}", getattr(cd_a, name),
                                      getattr(cd_b, name))
                           for name in CD_FIELDS if getattr(cd_a, name) != getattr(cd_b, name)],
        "special_slots": [{"slot": -n, "name": SPECIAL_SLOT_NAMES.get(n, f"slot -{n}"),
                           "a": show_value(cd_a.special_hashes.get(n)),
                           "b": show_value(cd_b.special_hashes.get(n))}
                          for n in sorted(set(cd_a.special_hashes) | set(cd_b.special_hashes))
                          if cd_a.special_hashes.get(n) != cd_b.special_hashes.get(n)],
        "cdhash": [cd_a.cdhash().hex(), cd_b.cdhash().hex()]}
    pages = []
    for i, (x, y) in enumerate(zip(cd_a.code_hashes, cd_b.code_hashes)):
        if x != y:
            start = i * cd_a.page_size
            pages.append({"page": i, "offset": start,
                          "covers": sorted(set(structures_in(sa, start, start + cd_a.page_size)))})
    if len(cd_a.code_hashes) != len(cd_b.code_hashes):
        out["code_directory"].append(field_diff("CodeDirectory.nCodeSlots", len(cd_a.code_hashes),
                                                len(cd_b.code_hashes)))
    out["code_slots"], out["more_code_slots"] = capped(pages, MAX_ITEMS)
    cms_a, cms_b = sup_a.get(CSSLOT_SIGNATURESLOT), sup_b.get(CSSLOT_SIGNATURESLOT)
    if cms_a != cms_b:
        out["cms"] = [len(cms_a or b""), len(cms_b or b"")]
    return out


# --------------------------------------------------------------------------
# Where a byte is.

def structure_at(sl: MachOSlice, offset: int) -> str:
    """The structure of slice ``sl`` holding byte ``offset``."""
    found = structures_in(sl, offset, offset + 1)
    return found[0] if found else "past the end"


def structures_in(sl: MachOSlice, start: int, end: int) -> list[str]:
    out = []
    if start < sl.header_size:
        out.append("mach_header")
    for lc in sl.load_commands:
        if lc.offset < end and start < lc.offset + lc.cmdsize:
            out.append(f"load command {lc.index} ({structs.load_command_name(lc.cmd)})")
    for seg in sl.segments:
        for sec in seg.sections:
            if sec.size and not _is_zerofill(sec) and sec.offset < end and start < sec.offset + sec.size:
                out.append(f"section {sec.segname},{sec.sectname}")
    for item in sl.linkedit_data:
        if item.datasize and item.dataoff < end and start < item.dataoff + item.datasize:
            out.append("code signature" if item.cmd == structs.LC_CODE_SIGNATURE
                       else structs.load_command_name(item.cmd) + " data")
    if not out:
        for seg in sl.segments:
            if seg.filesize and seg.fileoff < end and start < seg.fileoff + seg.filesize:
                out.append(f"segment {seg.segname} (outside its sections)")
    if not out and start < len(sl.data):
        out.append("padding")
    return out[:MAX_ITEMS]


# --------------------------------------------------------------------------
# The first difference, in plain words.

def _telling(sec: dict) -> int:
    """Sections most likely to be the cause first: a differing string (a
    path, a date), then a section that changed size; code whose addresses
    moved because another section grew comes last."""
    if "only_in" in sec or sec.get("strings"):
        return 0
    return 1 if sec["size"][0] != sec["size"][1] else 2


def first_in_words(path: str, report: dict[str, Any]) -> str:
    if report.get("universal"):
        d = report["universal"][0]
        return f"{path}: universal header: {d['field']} {d['a']} != {d['b']}"
    if report["archs"][0] != report["archs"][1]:
        return f"{path}: architectures {report['archs'][0]} != {report['archs'][1]}"
    for s in report["slices"]:
        where = f"{path} ({s['arch']})"
        if s["header"]:
            d = s["header"][0]
            return f"{where}: {d['field']} {d['a']} != {d['b']}"
        for sec in sorted(s["sections"], key=_telling):
            if "only_in" in sec:
                return f"{where}: section {sec['section']} only in {sec['only_in']}"
            text = f"{where}: section {sec['section']} differs from byte {sec['first_difference']}"
            if sec.get("strings"):
                text += f": A has {sec['strings'][0]!r}, B has {sec['strings'][1]!r}"
            else:
                text += f" ({sec['bytes'][0]} != {sec['bytes'][1]})"
            return text
        for lc in s["load_commands"]:
            d = lc["fields"][0]
            return f"{where}: load command {lc['index']} {d['field']}: {d['a']} != {d['b']}"
        for table in s["linkedit"]:
            return f"{where}: {table['table']} data differs from byte {table['first_difference']}"
        sym = s["symbols"]
        if sym.get("added") or sym.get("removed"):
            return (f"{where}: symbols added {sym['added'][:3]}, removed {sym['removed'][:3]}")
        if sym.get("changed"):
            c = sym["changed"][0]
            return f"{where}: symbol {c['symbol']} {c['field']} {c['a']} != {c['b']}"
        sig = s["signature"]
        if "present" in sig:
            return f"{where}: code signature present in {'A' if sig['present'][0] else 'B'} only"
        if sig.get("code_directory"):
            d = sig["code_directory"][0]
            return f"{where}: code signature {d['field']} {d['a']} != {d['b']}"
        if sig.get("special_slots"):
            d = sig["special_slots"][0]
            return f"{where}: code signature slot {d['slot']} ({d['name']}) differs"
        if sig.get("code_slots"):
            p = sig["code_slots"][0]
            return (f"{where}: code signature page {p['page']} hash differs "
                    f"(covers {', '.join(p['covers']) or 'nothing'})")
        fd = s["first_difference"]
        if fd["offset"] is not None:
            return f"{where}: differs from byte {fd['offset']} ({fd['a']})"
    return f"{path}: the slices are identical; the files differ outside them"
