"""Compile, archive, link, lipo: deterministic, no path leaks, right load commands.

Oracles: llvm-otool / llvm-objdump / llvm-lipo / llvm-ar (LLVM's readers,
independent of this project's code) and plain byte comparison.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from helpers import CACHE, require_tool
from pipeline.build import compiler as cc
from pipeline.build import sdk, toolchain
from pipeline.errors import InputError
from pipeline.jsonfile import sha256_file

REPO = Path(__file__).resolve().parents[2]

SOURCE = r"""
#include <assert.h>
#include <stdio.h>
#include "util.h"
int main(int argc, char **argv) {
    assert(argc > 0);                 /* assert() expands __FILE__ */
    printf("%s %s %d\n", __FILE__, argv[0], twice(argc));
    return 0;
}
"""
UTIL_H = "int twice(int x);\n"
UTIL_C = '#include "util.h"\nint twice(int x) { return 2 * x; }\n'


@pytest.fixture(scope="module")
def sdk_root(tmp_path_factory) -> Path:
    pin = sdk.load_pin(REPO / "sdk" / "MacOSX-zig-0.17.1.toml")
    tar = sdk.obtain_tarball(pin, CACHE)
    return sdk.extract(tar, pin.sha256, tmp_path_factory.mktemp("sdk") / "x") / pin.root


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    return toolchain.locate("llvm", 19)


def _project(where: Path) -> Path:
    (where / "src").mkdir(parents=True)
    (where / "src" / "main.c").write_text(SOURCE)
    (where / "src" / "util.h").write_text(UTIL_H)
    (where / "src" / "util.c").write_text(UTIL_C)
    return where


def _build(tools, project: Path, build: Path, sdk_root: Path, epoch: int) -> Path:
    """main.o + libutil.a -> per-arch executables -> universal; returns the universal binary."""
    slices = {}
    for arch in ("arm64", "x86_64"):
        objs = {}
        for src in ("src/main.c", "src/util.c"):
            objs[src] = build / arch / (Path(src).stem + ".o")
            cc.compile_object(tools, source=src, source_root=project, out=objs[src], arch=arch,
                              minimum_macos="11.0", sdk_root=sdk_root, build_root=build,
                              include_dirs=["src"], cflags=["-O2"], epoch=epoch)
        lib = build / arch / "libutil.a"
        cc.archive(tools, objects=[objs["src/util.c"]], out=lib, epoch=epoch)
        slices[arch] = build / arch / "Demo"
        cc.link(tools, objects=[objs["src/main.c"]], libraries=[lib], out=slices[arch], arch=arch,
                minimum_macos="11.0", sdk_root=sdk_root, epoch=epoch)
    universal = build / "universal" / "Demo"
    cc.lipo(tools, slices=slices, out=universal, epoch=epoch)
    return universal


def _in_other_conditions(fn, *, umask: int, tz: str, lang: str):
    saved = {k: os.environ.get(k) for k in ("TZ", "LANG", "LC_ALL")}
    old_umask = os.umask(umask)
    os.environ.update({"TZ": tz, "LANG": lang, "LC_ALL": lang})
    try:
        return fn()
    finally:
        os.umask(old_umask)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_two_directories_give_identical_bytes_and_no_path_leaks(tools, sdk_root, tmp_path):
    a = _project(tmp_path / "a")
    b = _project(tmp_path / "second" / "checkout-with-a-longer-name")
    out_a = _in_other_conditions(lambda: _build(tools, a, a / "build", sdk_root, 1_700_000_000),
                                 umask=0o022, tz="UTC", lang="C")
    out_b = _in_other_conditions(lambda: _build(tools, b, tmp_path / "elsewhere", sdk_root,
                                                1_700_000_000),
                                 umask=0o077, tz="Pacific/Kiritimati", lang="de_DE.UTF-8")
    pairs = [(out_a, out_b)]
    for arch in ("arm64", "x86_64"):
        for name in ("main.o", "util.o", "libutil.a", "Demo"):
            pairs.append((a / "build" / arch / name, tmp_path / "elsewhere" / arch / name))
    for one, two in pairs:
        assert sha256_file(one) == sha256_file(two), one.name
        data = one.read_bytes()
        for leak in (str(tmp_path), str(sdk_root), "/tmp/", "/root"):
            assert leak.encode() not in data, (one, leak)
    # __FILE__ went through -ffile-prefix-map: the relative name is what is left.
    assert b"src/main.c" in out_a.read_bytes()


def test_universal_binary_has_both_archs_and_the_minimum(tools, sdk_root, tmp_path):
    lipo = require_tool("llvm-lipo-19")
    otool = require_tool("llvm-otool-19")
    objdump = require_tool("llvm-objdump-19")
    universal = _build(tools, _project(tmp_path / "p"), tmp_path / "b", sdk_root, 0)
    info = subprocess.run([lipo, "-info", str(universal)], capture_output=True, text=True, check=True)
    assert sorted(info.stdout.split(":")[-1].split()) == ["arm64", "x86_64"]
    for arch in ("arm64", "x86_64"):
        # llvm-otool 19 ignores -arch and always prints the host's slice, so
        # each slice is read with llvm-objdump's Mach-O mode (the same printer).
        out = subprocess.run([objdump, "--macho", f"--arch={arch}", "--private-headers",
                              str(universal)], capture_output=True, text=True, check=True).stdout
        cputype = {"arm64": "ARM64", "x86_64": "X86_64"}[arch]
        assert re.search(rf"MH_MAGIC_64\s+{cputype}\s", out), out[:400]
        build_version = out.split("cmd LC_BUILD_VERSION", 1)[1].split("Load command", 1)[0]
        assert re.search(r"platform macos\b", build_version)
        assert re.search(r"minos 11\.0\b", build_version)
        assert re.search(r"sdk 27\.0\b", build_version)
        # arm64 keeps lld's ad-hoc signature (Apple silicon runs nothing unsigned);
        # lld does not sign x86_64 by default.
        assert ("cmd LC_CODE_SIGNATURE" in out) == (arch == "arm64"), arch
    host_slice = subprocess.run([otool, "-l", str(universal)], capture_output=True, text=True,
                                check=True).stdout
    assert re.search(r"minos 11\.0\b", host_slice)
    libs = subprocess.run([otool, "-L", str(universal)], capture_output=True,
                          text=True, check=True).stdout
    assert "/usr/lib/libSystem.B.dylib" in libs


def test_arm64_signature_is_lld_linker_signed_adhoc(tools, sdk_root, tmp_path):
    objdump = require_tool("llvm-objdump-19")
    universal = _build(tools, _project(tmp_path / "p"), tmp_path / "b", sdk_root, 0)
    arm64 = tmp_path / "b" / "arm64" / "Demo"
    out = subprocess.run([objdump, "--macho", "--private-headers", str(arm64)], capture_output=True,
                         text=True, check=True).stdout
    sig = out.split("cmd LC_CODE_SIGNATURE", 1)[1]
    dataoff = int(re.search(r"dataoff (\d+)", sig).group(1))
    data = arm64.read_bytes()
    blob = data[dataoff:]
    # SuperBlob magic, then a CodeDirectory whose flags are adhoc|linker-signed
    # (0x20002) and whose identifier is the output file name (docs/formats.md §3.2).
    assert blob[:4] == bytes.fromhex("fade0cc0")
    cd_off = int.from_bytes(blob[16:20], "big")
    cd = blob[cd_off:]
    assert cd[:4] == bytes.fromhex("fade0c02")
    assert int.from_bytes(cd[12:16], "big") == 0x20002
    ident_off = int.from_bytes(cd[20:24], "big")
    assert cd[ident_off:cd.index(b"\0", ident_off)] == b"Demo"
    # The slice inside the universal binary is the same bytes.
    assert arm64.read_bytes() in universal.read_bytes()


def test_llvm_ar_is_deterministic(tools, sdk_root, tmp_path):
    ar = require_tool("llvm-ar-19")
    project = _project(tmp_path / "p")
    obj = tmp_path / "util.o"
    cc.compile_object(tools, source="src/util.c", source_root=project, out=obj, arch="arm64",
                      minimum_macos="11.0", sdk_root=sdk_root, build_root=tmp_path, epoch=0)
    cc.archive(tools, objects=[obj], out=tmp_path / "one.a")
    os.utime(obj, (2_000_000_000, 2_000_000_000))
    os.chmod(obj, 0o600)
    cc.archive(tools, objects=[obj], out=tmp_path / "two.a")
    assert (tmp_path / "one.a").read_bytes() == (tmp_path / "two.a").read_bytes()
    listing = subprocess.run([ar, "tv", str(tmp_path / "one.a")], capture_output=True, text=True,
                             check=True, env={"TZ": "UTC", "LC_ALL": "C"}).stdout
    assert "0/0" in listing and "1970" in listing and "util.o" in listing


def test_compile_error_names_the_source(tools, sdk_root, tmp_path):
    project = _project(tmp_path / "p")
    (project / "src" / "broken.c").write_text("int main(void) { return undefined_name; }\n")
    with pytest.raises(cc.ToolError) as err:
        cc.compile_object(tools, source="src/broken.c", source_root=project, out=tmp_path / "b.o",
                          arch="x86_64", minimum_macos="11.0", sdk_root=sdk_root,
                          build_root=tmp_path, epoch=0)
    assert "compile src/broken.c (x86_64)" in str(err.value)
    assert "undefined_name" in str(err.value)
    assert not (tmp_path / "b.o").exists() and not (tmp_path / "b.o.partial").exists()


def test_scrubbed_environment_is_the_whole_environment():
    env = cc.scrubbed_env(123)
    assert env == {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC",
                   "ZERO_AR_DATE": "1", "SOURCE_DATE_EPOCH": "123"}


def test_date_macros_are_refused(tools, sdk_root, tmp_path):
    # __DATE__/__TIME__ would make the binary depend on the clock; the build
    # makes them an error rather than trusting every source to avoid them.
    project = _project(tmp_path / "p")
    (project / "src" / "when.c").write_text('const char *when = __DATE__;\n')
    with pytest.raises(cc.ToolError, match="date-time"):
        cc.compile_object(tools, source="src/when.c", source_root=project, out=tmp_path / "w.o",
                          arch="arm64", minimum_macos="11.0", sdk_root=sdk_root,
                          build_root=tmp_path, epoch=0)


def test_objective_c_source_compiles_against_the_demo_sdk(tools, sdk_root, tmp_path):
    # The demo SDK has the objc runtime headers but no libobjc stub or
    # frameworks: Objective-C compiles; linking it needs a fuller SDK.
    objdump = require_tool("llvm-objdump-19")
    project = tmp_path / "p"
    (project / "src").mkdir(parents=True)
    (project / "src" / "root.m").write_text(
        "#include <objc/runtime.h>\n"
        "__attribute__((objc_root_class)) @interface Root { Class isa; } + (int)answer; @end\n"
        "@implementation Root + (int)answer { return 42; } @end\n")
    out = tmp_path / "root.o"
    cc.compile_object(tools, source="src/root.m", source_root=project, out=out, arch="arm64",
                      minimum_macos="11.0", sdk_root=sdk_root, build_root=tmp_path, epoch=0)
    sections = subprocess.run([objdump, "--macho", "--section-headers", str(out)],
                              capture_output=True, text=True, check=True).stdout
    assert "__objc_classlist" in sections and "__objc_methname" in sections


def test_a_source_reading_an_undeclared_file_is_refused(tools, sdk_root, tmp_path):
    # The build graph and the manifests know the sources and the .h files in
    # the include folders; anything else a source pulls in (an .inc file, a
    # header outside the project) would change the binary without rerunning
    # anything or showing in the manifest.
    project = _project(tmp_path / "proj")
    declared = ["src/main.c", "src/util.h", "src/util.c"]
    out = tmp_path / "main.o"
    cc.compile_object(tools, source="src/main.c", source_root=project, out=out, arch="arm64",
                      minimum_macos="11.0", sdk_root=sdk_root, build_root=tmp_path / "b",
                      include_dirs=["src"], epoch=0, declared_inputs=declared)
    assert out.is_file()
    (project / "src" / "table.inc").write_text("int table[] = {1, 2};\n")
    (tmp_path / "outside.h").write_text("int outside;\n")
    (project / "src" / "main.c").write_text(
        '#include "table.inc"\n#include "../../outside.h"\n' + SOURCE)
    with pytest.raises(cc.ToolError) as err:
        cc.compile_object(tools, source="src/main.c", source_root=project, out=out, arch="arm64",
                          minimum_macos="11.0", sdk_root=sdk_root, build_root=tmp_path / "b",
                          include_dirs=["src"], epoch=0, declared_inputs=declared)
    message = str(err.value)
    assert "src/table.inc" in message and str(tmp_path / "outside.h") in message
    assert "not a declared input" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["main.o", "outside.h", "proj"]


def test_a_folder_with_an_equals_sign_is_refused(tools, sdk_root, tmp_path):
    # clang splits -ffile-prefix-map=OLD=NEW at the first '=', so a checkout
    # under "/home/a=b" would be mapped wrongly and leak part of its path.
    project = _project(tmp_path / "team=dev" / "proj")
    with pytest.raises(InputError, match=r"team=dev/proj: the source folder's path contains '='"):
        cc.compile_object(tools, source="src/util.c", source_root=project, out=tmp_path / "u.o",
                          arch="arm64", minimum_macos="11.0", sdk_root=sdk_root,
                          build_root=tmp_path / "b", include_dirs=["src"], epoch=0)
    assert not (tmp_path / "u.o").exists()


def test_declared_inputs_with_spaces_and_dollars_in_their_names(tools, sdk_root, tmp_path):
    # clang escapes such names in its dependency listing ("\ ", "$$"); the
    # check must read them back as the declared names, not as strays.
    project = _project(tmp_path / "proj")
    (project / "src" / "my header$1.h").write_text("#define GREETING 1\n")
    (project / "src" / "main.c").write_text('#include "my header$1.h"\n' + SOURCE)
    declared = ["src/main.c", "src/util.h", "src/my header$1.h"]
    cc.compile_object(tools, source="src/main.c", source_root=project, out=tmp_path / "m.o",
                      arch="x86_64", minimum_macos="11.0", sdk_root=sdk_root,
                      build_root=tmp_path / "b", include_dirs=["src"], epoch=0,
                      declared_inputs=declared)
    assert (tmp_path / "m.o").is_file()
    with pytest.raises(cc.ToolError, match=r"reads src/my header\$1\.h, not a declared input"):
        cc.compile_object(tools, source="src/main.c", source_root=project, out=tmp_path / "m.o",
                          arch="x86_64", minimum_macos="11.0", sdk_root=sdk_root,
                          build_root=tmp_path / "b", include_dirs=["src"], epoch=0,
                          declared_inputs=declared[:2])
