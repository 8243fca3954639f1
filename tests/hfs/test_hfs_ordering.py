"""Catalog ordering: our comparator against an independent implementation of
TN1150's FastUnicodeCompare (written here from the technote's pseudocode),
and Apple's decomposition against Unicode 3.2 NFD (Python's frozen UCD)."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.hfs.unicode import (IGNORABLE, compare_names, decompose, fold_key,
                                  lower_case_table, to_hfs_name, to_posix_name)


def _two_level_table(mapping: dict[int, int]) -> list[int]:
    """TN1150's layout: 256 high-byte entries pointing at 256-entry subtables
    (0 = no mappings for that high byte)."""
    table = [0] * 256
    for hi in sorted({u >> 8 for u in mapping}):
        table[hi] = len(table)
        table.extend((hi << 8) | lo for lo in range(256))
    for unit, folded in mapping.items():
        table[table[unit >> 8] + (unit & 0xFF)] = folded
    return table


TABLE = _two_level_table(lower_case_table())


def fast_unicode_compare(a: str, b: str) -> int:
    """TN1150 FastUnicodeCompare, unit by unit with the zero sentinel."""
    s1 = a.encode("utf-16-be", "surrogatepass")
    s2 = b.encode("utf-16-be", "surrogatepass")
    u1 = [int.from_bytes(s1[i:i + 2], "big") for i in range(0, len(s1), 2)]
    u2 = [int.from_bytes(s2[i:i + 2], "big") for i in range(0, len(s2), 2)]
    i = j = 0
    while True:
        c1 = 0
        while c1 == 0 and i < len(u1):
            c = u1[i]
            i += 1
            sub = TABLE[c >> 8]
            c1 = TABLE[sub + (c & 0xFF)] if sub else c
        c2 = 0
        while c2 == 0 and j < len(u2):
            c = u2[j]
            j += 1
            sub = TABLE[c >> 8]
            c2 = TABLE[sub + (c & 0xFF)] if sub else c
        if c1 != c2:
            return -1 if c1 < c2 else 1
        if c1 == 0:
            return 0


def binary_compare(a: str, b: str) -> int:
    """TN1150 HFSX binary comparison: unsigned 16-bit code units."""
    u1 = a.encode("utf-16-be", "surrogatepass")
    u2 = b.encode("utf-16-be", "surrogatepass")
    return (u1 > u2) - (u1 < u2)


# Characters where the order is interesting: case pairs from every folded
# script, ignorables, NUL, surrogate pairs and the top of the BMP.
INTERESTING = ("aAbBzZ09 ._-/:\0" "ÆæÐðØøÞþĐđĦħĲĳŁłŊŋŒœŦŧ" "ƁɓƆɔƎǝƏəƐɛ"
               "ΑαΣσςΩω" "ЁёЖжЯяЂђ" "ԱաՖֆ" "ႠⴀაႥ" "ⅠⅰⅯⅿ" "ＡａＺｚ" "ǄǅǆǇǈǉ"
               + "".join(map(chr, IGNORABLE)) + "\uffff\ufffd\u00ff\u0100😀𝔸")
names = st.text(alphabet=st.sampled_from(INTERESTING) | st.characters(
    blacklist_categories=("Cs",)), max_size=12)


@settings(max_examples=600, deadline=None)
@given(names, names)
def test_case_folding_order_matches_tn1150(a, b):
    assert compare_names(a, b, case_sensitive=False) == fast_unicode_compare(a, b)
    assert (fold_key(a) == fold_key(b)) == (fast_unicode_compare(a, b) == 0)


@settings(max_examples=300, deadline=None)
@given(names, names)
def test_binary_order_matches_hfsx(a, b):
    assert compare_names(a, b, case_sensitive=True) == binary_compare(a, b)


def test_tn1150_table_facts():
    table = lower_case_table()
    # NUL sorts after everything; the ignorables listed in TN1150 fold to 0.
    assert table[0] == 0xFFFF
    assert {u for u, v in table.items() if v == 0} == set(range(0x200C, 0x2010)) | \
        set(range(0x202A, 0x202F)) | set(range(0x206A, 0x2070)) | {0xFEFF}
    # Every other mapping is a lower-case mapping in Unicode, except Georgian
    # capitals, which TN1150 folds to the Mkhedruli letters (U+10D0..).
    for unit, folded in table.items():
        if folded in (0, 0xFFFF):
            continue
        if 0x10A0 <= unit <= 0x10C5:
            assert folded == unit + 0x30
        else:
            assert chr(unit).lower() == chr(folded), hex(unit)
        # Decomposable letters are never in the table: names are decomposed first.
        assert unicodedata.ucd_3_2_0.decomposition(chr(unit)) in ("",) or \
            unicodedata.ucd_3_2_0.decomposition(chr(unit)).startswith("<"), hex(unit)
    assert compare_names("a", "B") < 0 and compare_names("ab", "a\u200cb") == 0
    assert compare_names("\0x", "zzz") > 0


# Characters unassigned in Unicode 3.2 are left out: CPython's ucd_3_2_0
# reorders them by today's combining classes (U+07F2, N'Ko, class 220 since
# Unicode 5.0), while in Apple's 3.2 tables they are starters (class 0).
plain_bmp = st.text(alphabet=st.characters(max_codepoint=0xFFFF, blacklist_categories=("Cs",))
                    .filter(lambda c: not (0x2000 <= ord(c) <= 0x2FFF or 0xF900 <= ord(c) <= 0xFAFF))
                    .filter(lambda c: unicodedata.ucd_3_2_0.category(c) != "Cn"),
                    max_size=16)


@settings(max_examples=400, deadline=None)
@given(plain_bmp)
def test_decomposition_is_unicode_3_2_nfd_outside_excluded_ranges(s):
    assert decompose(s) == unicodedata.ucd_3_2_0.normalize("NFD", s)


def test_characters_unassigned_in_unicode_3_2_are_starters():
    # U+07F2 did not exist in Unicode 3.2, so it does not move before U+0300.
    assert decompose("A\u0300\u07f2") == "A\u0300\u07f2"


def test_excluded_ranges_and_astral_characters_are_kept():
    assert decompose("\u2126") == "\u2126"            # OHM SIGN stays
    assert decompose("\uf900") == "\uf900"            # CJK compatibility ideograph
    assert decompose("\U0001d15e") == "\U0001d15e"    # astral: not decomposed
    assert decompose("한") == "\u1112\u1161\u11ab"     # Hangul: algorithmic
    assert to_hfs_name("a:b") == "a/b" and to_posix_name("a/b") == "a:b"
