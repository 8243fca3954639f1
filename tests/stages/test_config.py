"""Release configuration: the example loads; unknown keys and wrong types name the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.build import config
from pipeline.errors import InputError

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "hello"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "hello"
    shutil.copytree(EXAMPLE, dest)
    return dest


def _write(project: Path, text: str) -> Path:
    path = project / "release.toml"
    path.write_text(text)
    return path


BASE = """
[app]
name = "Hello"
bundle_id = "org.example.hello"
version = "1.2.3"

[build]
sources = ["src/main.c"]
minimum_macos = "11.0"

[sdk]
name = "MacOSX-zig-0.17.1"
sha256 = "%s"

[dmg]
""" % ("ab" * 32)


def test_example_release_configuration_loads():
    cfg = config.load(EXAMPLE / "release.toml")
    assert cfg.name == "Hello"
    assert cfg.targets == ("arm64", "x86_64")
    assert cfg.minimum_macos == "11.0"
    assert cfg.dmg_format == "UDZO"
    assert [lib.name for lib in cfg.libraries] == ["greeting"]
    assert cfg.signature is None


def test_defaults_fill_optional_keys(project: Path):
    cfg = config.load(_write(project, BASE))
    assert cfg.executable == "Hello"
    assert cfg.build_number == "1.2.3"
    assert cfg.volume_name == "Hello"
    assert cfg.toolchain_provider == "llvm" and cfg.toolchain_version == 19
    assert cfg.source_date_epoch is None
    assert cfg.dmg_layout == "none"


@pytest.mark.parametrize("patch, key", [
    (("[app]", "[app]\nnmae = 'x'"), "app.nmae"),
    (("[dmg]", "[dmg]\ncompression = 'zlib'"), "dmg.compression"),
    (("[app]", "colour = 'red'\n[app]"), "colour"),
    (("[build]", "[build]\nsorces = []"), "build.sorces"),
])
def test_unknown_key_is_named(project: Path, patch, key):
    old, new = patch
    with pytest.raises(InputError) as err:
        config.load(_write(project, BASE.replace(old, new, 1)))
    assert f"{key}: unknown key" in str(err.value)
    assert "release.toml" in str(err.value)


@pytest.mark.parametrize("patch, key, problem", [
    (('version = "1.2.3"', "version = 1"), "app.version", "expected a string, got an integer"),
    (('minimum_macos = "11.0"', "minimum_macos = 11.0"), "build.minimum_macos",
     "expected a string, got a float"),
    (('sources = ["src/main.c"]', 'sources = "src/main.c"'), "build.sources",
     "expected an array, got a string"),
    (('sources = ["src/main.c"]', 'sources = ["src/main.c", 3]'), "build.sources[1]",
     "expected a string, got an integer"),
    (("[dmg]", "[dmg]\nformat = true"), "dmg.format", "expected a string, got a boolean"),
    (("[build]", "[build]\nsource_date_epoch = true"), "build.source_date_epoch",
     "expected an integer, got a boolean"),
    (("[build]", "[build]\ntargets = ['ppc']"), "build.targets[0]", "expected one of"),
    (("[dmg]", "[dmg]\nformat = 'UDXX'"), "dmg.format", "expected one of"),
    (('sources = ["src/main.c"]', 'sources = ["../outside.c"]'), "build.sources[0]",
     "leaves the configuration's folder"),
    (('sources = ["src/main.c"]', 'sources = ["/etc/passwd"]'), "build.sources[0]",
     "relative POSIX path"),
    (('sources = ["src/main.c"]', 'sources = ["src/missing.c"]'), "build.sources[0]",
     "no such file"),
    (('sha256 = "' + "ab" * 32 + '"', 'sha256 = "xyz"'), "sdk.sha256", "hex digits"),
    (('minimum_macos = "11.0"', 'minimum_macos = "10.13"'), "build.minimum_macos",
     "arm64 needs macOS 11.0"),
    (("[build]", "[build]\ncflags = ['-ffile-prefix-map=/x=y']"), "build.cflags[0]",
     "not allowed"),
    # Any debug info puts the build folder's absolute path into the
    # executable (ld64.lld's N_OSO stabs): seen with -g3 and
    # -gline-tables-only before these were refused.
    (("[build]", "[build]\ncflags = ['-O2', '-g3']"), "build.cflags[1]", "not allowed"),
    (("[build]", "[build]\ncflags = ['-gline-tables-only']"), "build.cflags[0]", "not allowed"),
    (("[build]", "[build]\ncflags = ['@flags.txt']"), "build.cflags[0]", "not allowed"),
    (("[build]", "[build]\ncflags = ['-fprofile-use=default.profdata']"), "build.cflags[0]",
     "not allowed"),
    (("[build]", "[build]\ncflags = ['-mmacosx-version-min=10.9']"), "build.cflags[0]",
     "not allowed"),
    (('sources = ["src/main.c"]', 'sources = ["' + "a" * 5000 + '.c"]'), "build.sources[0]",
     "File name too long"),
    (("[build]", "[build]\ninclude_dirs = ['src/main.c/x']"), "build.include_dirs[0]",
     "Not a directory"),
    (("[build]", "[build]\nsource_date_epoch = 99999999999"), "build.source_date_epoch",
     "outside 0..2212122495"),
    (("[build]", "[build]\nsource_date_epoch = -1"), "build.source_date_epoch",
     "outside 0.."),
    (("[toolchain]", ""), None, None),
])
def test_wrong_value_is_named(project: Path, patch, key, problem):
    old, new = patch
    text = BASE.replace(old, new, 1)
    if key is None:
        config.load(_write(project, text))     # the no-op row: BASE itself is valid
        return
    assert text != BASE
    with pytest.raises(InputError) as err:
        config.load(_write(project, text))
    assert f"{key}: " in str(err.value)
    assert problem in str(err.value)


def test_missing_required_key_is_named(project: Path):
    with pytest.raises(InputError, match=r"app\.bundle_id: missing"):
        config.load(_write(project, BASE.replace('bundle_id = "org.example.hello"\n', "")))


def test_invalid_toml_names_the_file(project: Path):
    with pytest.raises(InputError, match="release.toml: not valid TOML"):
        config.load(_write(project, BASE + "\n[app\n"))


def test_signature_pin(project: Path):
    cfg = config.load(_write(project, BASE + '\n[signature]\npath = "sig/signatures.tar"\n'
                              f'sha256 = "{"cd" * 32}"\n'))
    assert cfg.signature == config.SignaturePin("sig/signatures.tar", "cd" * 32)
    with pytest.raises(InputError, match=r"signature\.path"):
        config.load(_write(project, BASE + '\n[signature]\npath = "../x.tar"\n'
                                  f'sha256 = "{"cd" * 32}"\n'))
    with pytest.raises(InputError, match=r"signature\.path: .*relative POSIX path"):
        config.load(_write(project, BASE + '\n[signature]\npath = "..\\\\x.tar"\n'
                                  f'sha256 = "{"cd" * 32}"\n'))


def test_without_signature_drops_only_the_signature_table(project: Path):
    body = BASE + '\n[signature]\npath = "s.tar"   # from the signer\nsha256 = "' + "cd" * 32 + '"\n'
    path = _write(project, body + "\n[toolchain]\nversion = 19\n")
    stripped = config.without_signature(path)
    assert b"signature" not in stripped and b"s.tar" not in stripped
    assert b"[toolchain]\nversion = 19" in stripped
    import tomllib
    assert tomllib.loads(stripped.decode()) == {
        k: v for k, v in tomllib.loads(path.read_text()).items() if k != "signature"}
    plain = _write(project, BASE)
    assert config.without_signature(plain) == BASE.encode()


def test_inline_signature_cannot_be_stripped(project: Path):
    path = _write(project, 'signature = { path = "s.tar", sha256 = "' + "cd" * 32 + '" }\n' + BASE)
    with pytest.raises(InputError, match=r"signature: write it as a \[signature\] table"):
        config.without_signature(path)


def test_a_misspelt_required_key_is_reported_as_unknown(project: Path):
    with pytest.raises(InputError, match=r"app\.nmae: unknown key"):
        config.load(_write(project, BASE.replace('name = "Hello"', 'nmae = "Hello"')))


def test_icon_must_be_a_file(project: Path):
    (project / "Hello.icns").mkdir()       # exists, but the bundle stage cannot copy it
    with pytest.raises(InputError, match=r"app\.icon: 'Hello.icns': expected an .icns file"):
        config.load(_write(project, BASE.replace("[app]", "[app]\nicon = 'Hello.icns'", 1)))


def test_sources_are_files_and_include_dirs_are_folders(project: Path):
    (project / "src" / "folder.c").mkdir()
    with pytest.raises(InputError, match=r"build\.sources\[0\]: 'src/folder.c': not a C "):
        config.load(_write(project, BASE.replace('"src/main.c"', '"src/folder.c"', 1)))
    with pytest.raises(InputError, match=r"build\.include_dirs\[0\]: 'src/main.c': not a folder"):
        config.load(_write(project, BASE.replace("[build]", "[build]\ninclude_dirs = ['src/main.c']", 1)))


def test_harmless_flags_are_accepted(project: Path):
    cfg = config.load(_write(project, BASE.replace(
        "[build]", "[build]\ncflags = ['-O2', '-g0', '-Wall', '-DNAME=1', '-mtune=generic', '-Isrc']", 1)))
    assert cfg.cflags == ("-O2", "-g0", "-Wall", "-DNAME=1", "-mtune=generic", "-Isrc")


def test_volume_name_length_is_counted_as_hfs_plus_stores_it(project: Path):
    # 200 "é" are 200 characters but 400 UTF-16 units once decomposed (e +
    # combining acute): the HFS+ writer refuses more than 255, so the
    # configuration does, naming the key.
    ok = BASE.replace("[dmg]", "[dmg]\nvolume_name = '" + "\u00e9" * 127 + "'", 1)
    name = config.load(_write(project, ok)).volume_name
    assert name == "\u00e9" * 127
    from pipeline.hfs.tree import tree_from_directory     # the writer agrees
    from pipeline.hfs.writer import build_volume
    build_volume(tree_from_directory(project / "src"), volname=name, case_sensitive=False, epoch=0)
    long = BASE.replace("[dmg]", "[dmg]\nvolume_name = '" + "\u00e9" * 200 + "'", 1)
    with pytest.raises(InputError, match=r"dmg\.volume_name: .*\(400\)"):
        config.load(_write(project, long))


def _with_products(tmp_path, products: str, extra_build: str = "") -> Path:
    project = tmp_path / "multi"
    shutil.copytree(REPO / "examples" / "multi", project)
    text = (project / "release.toml").read_text()
    head, _, _rest = text.partition("[[build.products]]")
    tail = text[text.index("[sdk]"):]
    (project / "release.toml").write_text(head.replace("links = [\"Greeting\"]\n", "")
                                          + extra_build + products + "\n" + tail)
    return project / "release.toml"


def test_products_need_known_links_in_order(tmp_path):
    products = ('[[build.products]]\nkind = "helper"\nname = "h"\n'
                'sources = ["src/helper/helper.cpp"]\nlinks = ["Greeting"]\n'
                '[[build.products]]\nkind = "framework"\nname = "Greeting"\n'
                'sources = ["src/greeting/greeting.c"]\n')
    with pytest.raises(InputError, match=r"products\[0\]\.links: 'Greeting': list a product "
                                         r"before the products that link it"):
        config.load(_with_products(tmp_path, products))


def test_helper_location_and_adhoc_default(tmp_path):
    products = ('[[build.products]]\nkind = "helper"\nname = "tool"\nlocation = "MacOS"\n'
                'sources = ["src/helper/helper.cpp"]\n')
    cfg = config.load(_with_products(tmp_path, products))
    assert cfg.products[0].location == "MacOS"
    # An app with products is ad-hoc signed inside out unless it says otherwise.
    assert cfg.signing.adhoc is True
    hello = config.load(REPO / "examples" / "hello" / "release.toml")
    assert hello.signing.adhoc is False
    clash = products.replace('name = "tool"', 'name = "Multi"')
    with pytest.raises(InputError, match=r"products\[0\]\.name: 'Multi': the app's executable"):
        config.load(_with_products(tmp_path / "x", clash))
