"""The report as one self-contained HTML page (``dmg diff --html``): each
layer a table with A and B side by side, for attaching to a bug report.

The page is a function of the report only (no date, no host, no script),
so the same two images always give the same page.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

from .report import DiffReport
from .text import fmt_value

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #ddd; padding: .25em .5em; vertical-align: top;
         font-family: ui-monospace, monospace; font-size: 12.5px; overflow-wrap: anywhere; }
th { background: #f3f3f3; text-align: left; font-family: system-ui, sans-serif; }
td.a { background: #fff3f0; } td.b { background: #f0fff3; }
.verdict { padding: .6em 1em; border-radius: 4px; background: #fff8e1; }
.verdict.identical { background: #e8f5e9; }
ul.summary li { margin: .2em 0; }
"""


def _rows(items: Iterable[tuple[Any, Any, Any]], head=("where", "A", "B")) -> str:
    body = "".join(f"<tr><td>{escape(str(w))}</td><td class=a>{escape(str(a))}</td>"
                   f"<td class=b>{escape(str(b))}</td></tr>" for w, a, b in items)
    if not body:
        return "<p>no difference</p>"
    return ("<table><colgroup><col style='width:34%'><col><col></colgroup><tr>"
            + "".join(f"<th>{escape(h)}</th>" for h in head) + f"</tr>{body}</table>")


def _fields(items: list[dict]) -> list[tuple[str, str, str]]:
    return [(d["field"], fmt_value(d["a"], d["field"]), fmt_value(d["b"], d["field"])) for d in items]


def render_html(report: DiffReport) -> str:
    r = report.to_json()
    out = ["<!DOCTYPE html>", "<html lang=en><head><meta charset=utf-8>",
           f"<title>dmg diff: {escape(r['a'])} / {escape(r['b'])}</title>",
           f"<style>{_STYLE}</style></head><body>",
           "<h1>dmg diff</h1>",
           _rows([("image", r["a"], r["b"]),
                  ("size (bytes)", r["file"]["size"][0], r["file"]["size"][1])], ("", "A", "B"))]
    cls = "verdict identical" if r["identical"] else "verdict"
    verdict = {"identical": "identical, byte for byte",
               "encoding": "same content, different encoding",
               "content": "the content differs"}[r["verdict"]]
    out.append(f"<p class='{cls}'><b>Verdict:</b> {escape(verdict)}</p>")
    out.append("<ul class=summary>" + "".join(f"<li>{escape(s)}</li>" for s in r["summary"])
               + "</ul>")
    if r["identical"]:
        out.append("</body></html>")
        return "\n".join(out) + "\n"
    f = r["file"]
    out.append("<h2>1. The files</h2>")
    out.append(_rows([("first differing byte", f["first_difference"], f["first_difference"]),
                      ("structure holding it", f.get("a"), f.get("b"))]))
    c = r["container"]
    out.append("<h2>2. The container (UDIF)</h2>")
    out.append("<h3>koly trailer and resources</h3>")
    out.append(_rows(_fields(c["koly"] + c["resources"])))
    for side in ("a", "b"):
        for label in c[f"partitions_only_in_{side}"]:
            out.append(f"<p>partition only in {side.upper()}: {escape(label)}</p>")
    for p in c["partitions"]:
        rows = _fields(p["fields"])
        ch = p["chunks"]
        for key in ("count", "chunk_types", "level_hints"):
            if key in ch:
                rows.append((key.replace("_", " "), ch[key]["a"], ch[key]["b"]))
        for key in ("codec", "compressed_length"):
            rows += [(f"chunk {x['chunk']} {key.replace('_', ' ')}", x["a"], x["b"])
                     for x in ch.get(key, {}).get("chunks", [])[:100]]
        rows += [(f"chunk {x['chunk']} compressed bytes", f"{x['length']} bytes ({x['codec']})",
                  "differ") for x in ch.get("compressed_bytes", {}).get("chunks", [])[:100]]
        out.append(f"<h3>partition {escape(p['a'])}</h3>" + _rows(rows))
    if r.get("manifest") and r["manifest"]["fields"]:
        out.append("<h3>writers' manifests</h3>" + _rows(_fields(r["manifest"]["fields"])))
    ct = r["content"]
    out.append("<h2>3. The content (expanded disk)</h2>")
    if r["verdict"] == "encoding":
        out.append("<p>The expanded disks are identical: the images differ only in their "
                   "encoding.</p>")
    for p in ct["partitions"]:
        out.append(f"<h3>partition {escape(p['a'])}</h3>")
        if p["equal"]:
            out.append("<p>identical</p>")
            continue
        out.append(_content_partition(p))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _content_partition(p: dict) -> str:
    parts = [f"<p>{p['sectors']['sectors']} sector(s) differ</p>"]
    if p.get("volume_header"):
        parts.append("<h3>volume header</h3>" + _rows(_fields(p["volume_header"])))
    tree = p.get("tree")
    if tree:
        rows = [("/" + x, "absent", "present") for x in tree["added"]]
        rows += [("/" + x, "present", "absent") for x in tree["removed"]]
        rows += [(f"/{m['path']}: {m['field']}", fmt_value(m["a"], m["field"]), fmt_value(m["b"], m["field"]))
                 for m in tree["metadata"]]
        rows += [(f"/{d['path']} ({d['fork']} fork)", f"{d['size'][0]} bytes",
                  f"{d['size'][1]} bytes; differs from byte {d['first_difference']}")
                 for d in tree["data"]]
        parts.append("<h3>files</h3>" + _rows(rows, ("path", "A", "B")))
        for d in tree["data"]:
            if "macho" in d:
                parts.append(f"<h3>Mach-O: /{escape(d['path'])}</h3>" + _macho_table(d["macho"]))
    for problem in p.get("problems", []):
        parts.append(f"<p>unreadable volume: {escape(problem)}</p>")
    if "blocks" in p:
        rows = [(f"blocks {b['blocks'][0]}-{b['blocks'][1]}", "; ".join(b["a"]), "; ".join(b["b"]))
                for b in p["blocks"][:200]]
        parts.append("<h3>allocation blocks</h3>" + _rows(rows, ("blocks", "A holds", "B holds")))
    return "\n".join(parts)


def _macho_table(m: dict) -> str:
    rows = []
    for s in m.get("slices", []):
        arch = s["arch"]
        rows += [(f"{arch} {d['field']}", fmt_value(d["a"]), fmt_value(d["b"])) for d in s["header"]]
        for sec in s["sections"]:
            if "only_in" in sec:
                rows.append((f"{arch} section {sec['section']}", *(("present", "absent")
                             if sec["only_in"] == "A" else ("absent", "present"))))
                continue
            shown = sec.get("strings") or sec["bytes"]
            rows.append((f"{arch} section {sec['section']} byte {sec['first_difference']}",
                         shown[0], shown[1]))
        for lc in s["load_commands"]:
            rows += [(f"{arch} load command {lc['index']} {d['field']}", fmt_value(d["a"]), fmt_value(d["b"]))
                     for d in lc["fields"]]
        for t in s["linkedit"]:
            rows.append((f"{arch} {t['table']} data", f"{t['size'][0]} bytes",
                         f"{t['size'][1]} bytes; differs from byte {t['first_difference']}"))
        sym = s["symbols"]
        rows += [(f"{arch} symbol {x}", "absent", "present") for x in sym.get("added", [])]
        rows += [(f"{arch} symbol {x}", "present", "absent") for x in sym.get("removed", [])]
        rows += [(f"{arch} symbol {c['symbol']} {c['field']}", hex(c["a"]), hex(c["b"]))
                 for c in sym.get("changed", [])]
        sig = s["signature"]
        rows += [(f"{arch} signature {d['field']}", fmt_value(d["a"]), fmt_value(d["b"]))
                 for d in sig.get("code_directory", [])]
        rows += [(f"{arch} signature slot {d['slot']} ({d['name']})", d["a"], d["b"])
                 for d in sig.get("special_slots", [])]
        rows += [(f"{arch} signature page {p['page']}", ", ".join(p["covers"]), "hash differs")
                 for p in sig.get("code_slots", [])[:100]]
    text = "<p>" + escape(m["first"]) + "</p>"
    return text + _rows(rows)
