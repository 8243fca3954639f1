"""The Mach-O level of `dmg diff` (pipeline.diff.macho) on binaries nobody
here wrote: the corpus's signed/unsigned pair (signapple's test app, signed
by Apple's codesign), checked against llvm-otool's reading of the load
commands; and seeded mutations, which give a report, never an exception."""

from __future__ import annotations

import random

from helpers import SIGNAPPLE_CORPUS
from macho_builder import otool_load_commands
from pipeline.diff.macho import compare_macho, string_at, structure_at
from pipeline.macho import parse_macho

SIGNED = SIGNAPPLE_CORPUS / "signed/Contents/MacOS/signapple-test"
UNSIGNED = SIGNAPPLE_CORPUS / "unsigned/Contents/MacOS/signapple-test"


def test_signed_vs_unsigned_names_what_otool_sees_differ():
    report = compare_macho(SIGNED.read_bytes(), UNSIGNED.read_bytes(), "signapple-test")
    (sl,) = report["slices"]
    ours = {lc["index"] for lc in sl["load_commands"]}
    a, b = otool_load_commands(SIGNED), otool_load_commands(UNSIGNED)
    assert len(a) == len(b)
    assert ours == {i for i, (x, y) in enumerate(zip(a, b)) if x != y}
    named = {(lc["command"], f["field"]) for lc in sl["load_commands"] for f in lc["fields"]}
    assert ("LC_CODE_SIGNATURE", "LC_CODE_SIGNATURE.datasize") in named
    assert ("LC_SEGMENT_64", "LC_SEGMENT_64.filesize") in named
    # codesign's signature in A; the unsigned build reserves zeroed space.
    assert sl["signature"] == {"present": [True, False]}
    assert sl["sections"] == [] and sl["symbols"] == {}


def test_a_string_difference_is_shown_as_text():
    data = SIGNED.read_bytes()
    macho = parse_macho(data, "x").slices[0]
    cstring = next(s for seg in macho.segments for s in seg.sections if s.sectname == "__cstring")
    text = data[cstring.offset:cstring.offset + cstring.size]
    first = text.split(b"\0")[0]
    changed = bytearray(data)
    changed[cstring.offset] ^= 0x01
    report = compare_macho(data, bytes(changed), "x")
    (sec,) = report["slices"][0]["sections"]
    assert sec["section"] == "__TEXT,__cstring" and sec["first_difference"] == 0
    assert sec["strings"][0] == first.decode()
    assert "__TEXT,__cstring" in report["first"] and first.decode()[1:] in report["first"]
    # The signature's page hashes no longer match, but the signature blob
    # itself is the same bytes: no signature finding.
    assert report["slices"][0]["signature"] == {}
    assert structure_at(macho, cstring.offset) == "section __TEXT,__cstring"
    assert string_at(b"\x00\x01abc/def\x00", 4) == "abc/def"
    assert string_at(b"\x00ab\x00", 1) is None


def test_seeded_mutations_give_a_report():
    data = UNSIGNED.read_bytes()
    rng = random.Random(15)
    for _ in range(150):
        mutated = bytearray(data)
        for _ in range(rng.choice((1, 4, 16))):
            at = rng.randrange(0, min(len(data), 8192) if rng.random() < 0.7 else len(data))
            mutated[at] = rng.randrange(256)
        if rng.random() < 0.1:
            mutated = mutated[:rng.randrange(len(mutated))]
        report = compare_macho(data, bytes(mutated), "m")
        assert isinstance(report["first"], str) and report["first"]
