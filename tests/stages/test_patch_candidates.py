"""The evidence behind patches/README.md's decisions on the patches issue 12
asked to investigate: what LLVM 19's linker and archivers already do, so
that no patch is written for behaviour that is already right.  Each test
here fails if the decision stops holding (a new LLVM, a changed flag).

Oracles: Apple's ld64 output nobody here made (tests/data/fsevents-2.3.3,
an npm add-on linked on macOS), LLVM's own readers, byte comparison.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import CACHE, PIN, REPO, require_tool
from pipeline.build import compiler, config, sdk, toolchain
from pipeline.codesign.allocate import default_dataoff
from pipeline.codesign.blobs import CodeDirectoryHeader, SuperBlob
from pipeline.errors import InputError
from pipeline.macho import read_macho

LD64_BUNDLE = REPO / "tests" / "data" / "fsevents-2.3.3" / "fsevents.node"
ARM64 = 0x0100000C
PLUGIN_C = "int plugin_entry(int x) { return x + 1; }\n"


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    return toolchain.locate("llvm", 19)


@pytest.fixture(scope="module")
def sdk_root(tmp_path_factory) -> Path:
    pin = sdk.load_pin(PIN)
    return sdk.prepare(pin, CACHE, tmp_path_factory.mktemp("sdk") / "x")


def _plugin_object(tools, sdk_root: Path, root: Path) -> Path:
    (root / "src").mkdir()
    (root / "src" / "plugin.c").write_text(PLUGIN_C)
    obj = root / "plugin.o"
    compiler.compile_object(tools, source="src/plugin.c", source_root=root, out=obj,
                            arch="arm64", minimum_macos="11.0", sdk_root=sdk_root,
                            build_root=root)
    return obj


@pytest.fixture(scope="module")
def lld_bundle(tools, sdk_root, tmp_path_factory) -> Path:
    """A bundle (MH_BUNDLE, like the ld64 sample) linked by Debian's ld64.lld."""
    root = tmp_path_factory.mktemp("plugin")
    obj = _plugin_object(tools, sdk_root, root)
    out = root / "out" / "Extra"
    compiler.link(tools, objects=[obj], out=out, arch="arm64", minimum_macos="11.0",
                  sdk_root=sdk_root, kind="bundle")
    return out


def _linker_signature(path: Path) -> dict:
    """The facts of an arm64 slice's linker signature that a signer relies on."""
    data = path.read_bytes()
    [sl] = [s for s in read_macho(path).slices if s.cputype == ARM64]
    cs = sl.code_signature
    linkedit = sl.segment("__LINKEDIT")
    start = sl.file_offset + cs.dataoff
    blob = SuperBlob.parse(data[start:start + cs.datasize])
    [(slot, cd)] = blob.entries
    head = CodeDirectoryHeader.parse(cd)
    ident_end = cd.index(b"\0", head.ident_offset)
    return {
        "only a CodeDirectory": slot == 0,
        "offset 16-aligned": cs.dataoff % 16 == 0,
        "last in __LINKEDIT": linkedit.fileoff + linkedit.filesize == cs.dataoff + cs.datasize,
        "codeLimit is the offset": head.code_limit == cs.dataoff,
        "a signer keeps the offset": default_dataoff(sl) == cs.dataoff,
        "flags": head.flags, "version": head.version, "page size": 1 << head.page_size,
        "hash": head.hash_type, "special slots": head.n_special_slots,
        "exec segment flags": head.exec_seg_flags,
        "identifier is the file name": cd[head.ident_offset:ident_end].decode() == path.name,
        # The two places where the linkers' bytes differ (padding only):
        "_identifier padding": head.hash_offset - (ident_end + 1),
        "_datasize - superblob": cs.datasize - len(blob.pack()),
    }


def test_lld_and_ld64_linker_signatures_follow_the_same_rules(lld_bundle):
    """Candidate "lld's ad-hoc signature vs Apple's rules": no patch.  Every
    field a signer or the kernel reads agrees with ld64's own output; the
    only differences are padding (lld pads its headers and identifier to a
    multiple of 16 bytes, ld64 does not), which no reader interprets and which the
    final signature replaces at the same offset (codesign_allocate's rule,
    "a signer keeps the offset")."""
    lld = _linker_signature(lld_bundle)
    ld64 = _linker_signature(LD64_BUNDLE)
    same = {k: v for k, v in lld.items() if not k.startswith("_")}
    assert same == {k: v for k, v in ld64.items() if not k.startswith("_")}
    assert same["flags"] == 0x20002 and same["version"] == 0x20400      # adhoc | linker-signed
    assert same["page size"] == 4096 and same["hash"] == 2 and same["special slots"] == 0
    assert all(v for k, v in same.items() if isinstance(v, bool))
    assert (ld64["_identifier padding"], lld["_identifier padding"] > 0) == (0, True)


def test_lld_writes_no_build_path_or_object_time_without_debug_info(lld_bundle, tools):
    """Candidate "N_OSO stabs and -oso_prefix": no patch.  Stabs (N_OSO with
    the object's absolute path and mtime) come only with debug info, which
    the release configuration refuses (-g is a refused cflag); lld 19 also
    zeroes their mtime by default (lld/MachO/Config.h: zeroModTime = true)
    and takes -oso_prefix like ld64."""
    nm = require_tool("llvm-nm-19")
    symbols = subprocess.run([nm, "-pa", str(lld_bundle)], capture_output=True, text=True,
                             check=True).stdout
    assert " OSO " not in symbols and " SO " not in symbols
    assert str(lld_bundle.parent) not in lld_bundle.read_bytes().decode("latin-1")
    folder = lld_bundle.parent.parent / "hello"
    shutil.copytree(REPO / "examples/hello", folder)
    release = folder / "release.toml"
    release.write_text(release.read_text().replace('cflags = ["-O2", "-Wall", "-Werror"]',
                                                   'cflags = ["-O2", "-g"]'))
    with pytest.raises(InputError, match=r"build\.cflags.*-g"):
        config.load(release)


@pytest.mark.parametrize("tool", ["llvm-ar-19", "llvm-libtool-darwin-19"])
def test_archivers_are_deterministic_without_flags_or_zero_ar_date(tool, tools, sdk_root,
                                                                    tmp_path):
    """Candidate "llvm-ar / llvm-libtool-darwin without ZERO_AR_DATE": no
    patch.  Both default to deterministic archives (zero dates, uid, gid):
    no D flag, no ZERO_AR_DATE, different object mtimes and modes give the
    same bytes."""
    exe = require_tool(tool)
    obj = _plugin_object(tools, sdk_root, tmp_path)
    outputs = []
    for i, (mtime, mode) in enumerate(((1_000_000_000, 0o644), (2_000_000_000, 0o600))):
        os.utime(obj, (mtime, mtime))
        os.chmod(obj, mode)
        out = tmp_path / f"lib{i}.a"
        cmd = ([exe, "rcs", str(out), str(obj)] if tool.startswith("llvm-ar")
               else [exe, "-static", "-o", str(out), str(obj)])
        env = {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "TZ": "UTC"}     # no ZERO_AR_DATE
        subprocess.run(cmd, check=True, env=env, cwd=tmp_path, capture_output=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
