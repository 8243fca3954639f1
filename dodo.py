"""doit task graph: toolchain -> sdk -> compile -> archive/link -> lipo -> bundle
-> unsigned tarball -> image -> SHA256SUMS + build manifest.

Tasks only wire; every action is a plain function in ``pipeline``.  Each task
declares its file inputs (file_dep), its targets, and the options that shape
its output (``config_changed``), so a second ``doit`` with nothing changed
runs nothing and an edited source reruns only its own chain.

    .venv/bin/doit -f dodo.py                        # examples/hello/release.toml
    .venv/bin/doit -f dodo.py release=path/to/release.toml

Outputs go to ``build/<app>/``; the extracted SDK to ``build/sdk/<name>/``;
downloads and SDK tarballs to ``$REPRODMG_CACHE`` (default ``build/cache``),
content-addressed by the pins, so sharing a cache never changes an output.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

from doit import get_var
from doit.dependency import FileChangedChecker
from doit.exceptions import TaskFailed
from doit.tools import config_changed

from pipeline.build import bundle, compiler as cc, config, image, manifest, sdk, toolchain
from pipeline.build import signature as signature_stage, unsigned_tarball
from pipeline.build.code_inputs import code_files
from pipeline.epoch import source_date_epoch
from pipeline.errors import ReprodmgError

ROOT = Path(__file__).resolve().parent
BUILD = ROOT / "build"
BUILD.mkdir(exist_ok=True)      # doit keeps its state file here, even when the first task fails



class ContentChecker(FileChangedChecker):
    """A file changed when its size or SHA-256 changed; modification times are ignored.

    doit's default checker trusts an unchanged mtime, but every file of the
    bundle carries SOURCE_DATE_EPOCH as its mtime, so an edited source that
    yields a same-size executable would look unchanged to the image task.
    """

    def check_modified(self, file_path, file_stat, state):
        size, digest = state
        return file_stat.st_size != size or manifest.sha256_file(file_path) != digest

    def get_state(self, dep, current_state):
        state = [os.path.getsize(dep), manifest.sha256_file(dep)]
        return None if current_state is not None and list(current_state) == state else state


DOIT_CONFIG = {
    "dep_file": str(BUILD / ".doit.db"),
    "backend": "json",
    "check_file_uptodate": ContentChecker,
    "default_tasks": ["checksums"],
    "verbosity": 1,
}


def _guard(fn):
    """Run a pipeline function as a doit action; our errors, and the file
    system's (a full disk, a file where the build needs a folder), become
    one-line failures naming the file instead of tracebacks."""
    def action(*args, **kwargs):
        try:
            fn(*args, **kwargs)
        except ReprodmgError as exc:
            return TaskFailed(f"reprodmg: error: {exc}")
        except OSError as exc:
            where = exc.filename if exc.filename is not None else fn.__name__
            return TaskFailed(f"reprodmg: error: {where}: {exc.strerror or exc}")
        return None
    action.__name__ = getattr(fn, "__name__", "action")
    action.__doc__ = fn.__doc__
    return action


def _load():
    raw = get_var("release", os.environ.get("REPRODMG_RELEASE", "examples/hello/release.toml"))
    path = Path(raw)
    cfg = config.load(path if path.is_absolute() else ROOT / path)
    return cfg


try:
    CFG = _load()
    EPOCH = source_date_epoch(CFG.source_date_epoch)
    PIN = sdk.find_pin(ROOT / "sdk", CFG.sdk_name, CFG.sdk_sha256)
except ReprodmgError as _exc:
    raise SystemExit(f"reprodmg: error: {_exc}") from None

OUT = BUILD / CFG.slug
CACHE = Path(os.environ.get("REPRODMG_CACHE") or BUILD / "cache")
SDK_DIR = BUILD / "sdk" / PIN.name
SDK_STAMP = SDK_DIR / "sdk.json"
SDK_ROOT = SDK_DIR / "contents" / PIN.root
TOOLCHAIN_JSON = OUT / "toolchain.json"
INPUTS = manifest.project_inputs(CFG)
HEADERS = [CFG.root / p for p in INPUTS if p.endswith(".h")]
TEMPLATES = {f"templates/{n}": bundle.TEMPLATES / n for n in ("Info.plist.j2", "PkgInfo.j2")}

UNIVERSAL = OUT / "universal" / CFG.executable
APP = OUT / f"{CFG.name}.app"
APP_FILES = [APP / "Contents" / "Info.plist", APP / "Contents" / "PkgInfo",
             APP / "Contents" / "MacOS" / CFG.executable]
ICON_FILE = Path(CFG.icon).name if CFG.icon else None
if ICON_FILE:
    APP_FILES.append(APP / "Contents" / "Resources" / ICON_FILE)
APP_MANIFEST = OUT / "app-manifest.json"
APP_TAR = OUT / f"{CFG.name}-{CFG.version}-unsigned.tar"
DMG = OUT / f"{CFG.name}-{CFG.version}.dmg"
IMAGE_INFO = OUT / "image.json"
SIGNED_APP_DIR = OUT / "signed"
SIGNED_APP = SIGNED_APP_DIR / f"{CFG.name}.app"
SIGNED_DMG = OUT / f"{CFG.name}-{CFG.version}-signed.dmg"
SIGNED_IMAGE_INFO = OUT / "image-signed.json"
SUMS = OUT / "SHA256SUMS"
RELEASE_MANIFEST = OUT / "build-manifest.json"


# The code of each stage is an input of its tasks too: a changed flag in the
# compiler stage or a changed tarball writer must rebuild, never leave a
# stale output that looks up to date.  Derived from the stage modules'
# imports (pipeline.build.code_inputs), through the imported package, so a
# checkout outside the project folder is tracked as well.
TOOLCHAIN_CODE = code_files("pipeline.build.toolchain")
SDK_CODE = code_files("pipeline.build.sdk")
COMPILE_CODE = code_files("pipeline.build.compiler")
BUNDLE_CODE = code_files("pipeline.build.bundle")
TARBALL_CODE = code_files("pipeline.build.unsigned_tarball", "pipeline.build.manifest")
CHECKSUMS_CODE = code_files("pipeline.build.manifest")


def _obj(arch: str, source: str) -> Path:
    return OUT / "obj" / arch / (os.path.splitext(source)[0] + ".o")


def _lib(arch: str, name: str) -> Path:
    return OUT / "obj" / arch / f"lib{name}.a"


def _exe(arch: str) -> Path:
    return OUT / arch / CFG.executable


def _tools():
    return toolchain.locate(CFG.toolchain_provider, CFG.toolchain_version)


# --------------------------------------------------------------------------


def task_toolchain():
    """Resolve the LLVM tools and record versions and hashes."""
    try:
        deps = [str(p) for p in toolchain.tool_paths(CFG.toolchain_provider, CFG.toolchain_version)]
    except ReprodmgError:
        deps = []      # the action reports what to install
    return {
        "actions": [(_guard(toolchain.write_manifest),
                     [TOOLCHAIN_JSON, CFG.toolchain_provider, CFG.toolchain_version])],
        "file_dep": [*deps, *TOOLCHAIN_CODE],
        "targets": [TOOLCHAIN_JSON],
        "uptodate": [config_changed({"provider": CFG.toolchain_provider,
                                     "major": CFG.toolchain_version})],
        "clean": True,
    }


def task_sdk():
    """Check the pinned SDK tarball's hash, then extract it safely."""
    return {
        "actions": [(_guard(sdk.prepare), [PIN, CACHE, SDK_DIR])],
        "file_dep": [PIN.path, *SDK_CODE],
        "targets": [SDK_STAMP],
        "uptodate": [config_changed({"sha256": PIN.sha256, "root": PIN.root})],
        "clean": True,
    }


def _compile_options(arch: str) -> dict:
    return {"arch": arch, "minimum_macos": CFG.minimum_macos, "cflags": list(CFG.cflags),
            "include_dirs": list(CFG.include_dirs), "epoch": EPOCH}


def task_compile():
    """clang -c, one task per (architecture, source)."""
    for arch in CFG.targets:
        for source in CFG.all_sources():
            def run(arch=arch, source=source):
                cc.compile_object(_tools(), source=source, source_root=CFG.root,
                                  out=_obj(arch, source), arch=arch,
                                  minimum_macos=CFG.minimum_macos, sdk_root=SDK_ROOT,
                                  build_root=BUILD, include_dirs=CFG.include_dirs,
                                  cflags=CFG.cflags, epoch=EPOCH, declared_inputs=INPUTS)
            yield {
                "name": f"{arch}:{source}",
                "actions": [_guard(run)],
                "file_dep": [CFG.root / source, *HEADERS, SDK_STAMP, TOOLCHAIN_JSON, *COMPILE_CODE],
                "targets": [_obj(arch, source)],
                "uptodate": [config_changed(_compile_options(arch))],
                "clean": True,
            }


def task_archive():
    """llvm-ar (deterministic) for each static library and architecture."""
    for arch in CFG.targets:
        for lib in CFG.libraries:
            objects = [_obj(arch, s) for s in lib.sources]

            def run(arch=arch, lib=lib, objects=objects):
                cc.archive(_tools(), objects=objects, out=_lib(arch, lib.name), epoch=EPOCH)
            yield {
                "name": f"{arch}:{lib.name}",
                "actions": [_guard(run)],
                "file_dep": [*objects, TOOLCHAIN_JSON, *COMPILE_CODE],
                "targets": [_lib(arch, lib.name)],
                "clean": True,
            }


def task_link():
    """ld64.lld, one executable per architecture (arm64: lld's ad-hoc signature)."""
    for arch in CFG.targets:
        objects = [_obj(arch, s) for s in CFG.sources]
        libs = [_lib(arch, lib.name) for lib in CFG.libraries]

        def run(arch=arch, objects=objects, libs=libs):
            cc.link(_tools(), objects=objects, libraries=libs, out=_exe(arch), arch=arch,
                    minimum_macos=CFG.minimum_macos, sdk_root=SDK_ROOT, epoch=EPOCH)
        yield {
            "name": arch,
            "actions": [_guard(run)],
            "file_dep": [*objects, *libs, SDK_STAMP, TOOLCHAIN_JSON, *COMPILE_CODE],
            "targets": [_exe(arch)],
            "uptodate": [config_changed({"minimum_macos": CFG.minimum_macos, "epoch": EPOCH})],
            "clean": True,
        }


def task_lipo():
    """llvm-lipo: one universal executable."""
    slices = {arch: _exe(arch) for arch in CFG.targets}

    def run():
        cc.lipo(_tools(), slices=slices, out=UNIVERSAL, epoch=EPOCH)
    return {
        "actions": [_guard(run)],
        "file_dep": [*slices.values(), TOOLCHAIN_JSON, *COMPILE_CODE],
        "targets": [UNIVERSAL],
        "clean": True,
    }


def _bundle_info() -> bundle.BundleInfo:
    return bundle.BundleInfo(name=CFG.name, bundle_id=CFG.bundle_id, version=CFG.version,
                             build_number=CFG.build_number, executable=CFG.executable,
                             minimum_macos=CFG.minimum_macos, icon_file=ICON_FILE)


def task_bundle():
    """Name.app from templates/ (Info.plist, PkgInfo, executable, icon)."""
    icon = CFG.root / CFG.icon if CFG.icon else None

    def run():
        bundle.build_app(_bundle_info(), executable=UNIVERSAL, out_dir=OUT, icon=icon, epoch=EPOCH)
    return {
        "actions": [_guard(run)],
        "file_dep": [UNIVERSAL, *TEMPLATES.values(), *([icon] if icon else []), *BUNDLE_CODE],
        "targets": APP_FILES,
        # jinja2 renders the templates: another version may lay them out differently.
        "uptodate": [config_changed({"info": repr(_bundle_info()), "epoch": EPOCH,
                                     "jinja2": importlib.metadata.version("jinja2")})],
        "clean": [(_guard(_rmtree), [APP])],
    }


def _rmtree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)


def task_app_tarball():
    """The unsigned tarball for the signer: the .app, release.toml, build manifest."""
    def run():
        data = manifest.app_manifest(CFG, epoch=EPOCH, toolchain=manifest.read_json(TOOLCHAIN_JSON),
                                     sdk=manifest.read_json(SDK_STAMP), app_dir=APP,
                                     templates=TEMPLATES)
        manifest.write_json(APP_MANIFEST, data)
        unsigned_tarball.pack_app_tarball(APP, config_path=CFG.path, manifest_path=APP_MANIFEST,
                                out_path=APP_TAR, epoch=EPOCH)
    return {
        "actions": [_guard(run)],
        "file_dep": [*APP_FILES, *(CFG.root / p for p in INPUTS), TOOLCHAIN_JSON, SDK_STAMP,
                     *TEMPLATES.values(), *TARBALL_CODE],
        "targets": [APP_MANIFEST, APP_TAR],
        "uptodate": [config_changed({"epoch": EPOCH})],
        "clean": True,
    }


# The image tasks' code (an upgraded HFS+/UDIF or signing library must
# rebuild the DMG) and the Finder layout's picture.
IMAGE_CODE = code_files("pipeline.build.image")
SIGNED_IMAGE_CODE = code_files("pipeline.build.image", "pipeline.build.signature")
BACKGROUND = [CFG.root / CFG.window.background] if CFG.window and CFG.window.background else []


def _image_options() -> dict:
    options = {"volume_name": CFG.volume_name, "format": CFG.dmg_format,
               "layout": CFG.dmg_layout, "epoch": EPOCH}
    if CFG.window is not None:
        options["window"] = CFG.window.options()
    return options


def _image_uptodate_options() -> dict:
    """What config_changed watches: the options, the codec's implementation and
    version (another libdeflate compresses to other bytes), and the layout
    packages' versions."""
    from pipeline import codecs
    from pipeline.udif.formats import lookup_format
    options = _image_options()
    options["codec"] = codecs.implementation(lookup_format(CFG.dmg_format).codec)
    if CFG.window is not None:
        from pipeline.build import finder as layout
        options["layout_libraries"] = layout.library_versions()
    return options


def _make_image(app_dir: Path, stage_dir: Path, out: Path, info_path: Path) -> None:
    image.stage(app_dir, stage_dir, epoch=EPOCH)
    info = image.build_dmg(stage_dir, out, volume_name=CFG.volume_name, dmg_format=CFG.dmg_format,
                           layout=CFG.dmg_layout, epoch=EPOCH, window=CFG.window,
                           config_root=CFG.root, config_name=CFG.path.name)
    manifest.write_json(info_path, {**_image_options(), **info})


def task_image():
    """Stage (.app + Applications link) -> HFS+ (+ Finder layout) -> UDIF."""
    return {
        "actions": [(_guard(_make_image), [APP, OUT / "stage", DMG, IMAGE_INFO])],
        "file_dep": [*APP_FILES, *IMAGE_CODE, *BACKGROUND],
        "targets": [DMG, IMAGE_INFO],
        "uptodate": [config_changed(_image_uptodate_options())],
        "clean": True,
    }


def task_signed_image():
    """Signed path (when the release pins a signature tarball): apply -> verify -> image."""
    if CFG.signature is None:
        return {"actions": None, "doc": "no signature pinned in the release configuration",
                "uptodate": [True]}
    sig_tar = CFG.root / CFG.signature.path

    def run():
        signature_stage.apply_signature(APP, sig_tar, CFG.signature.sha256, SIGNED_APP, epoch=EPOCH)
        _make_image(SIGNED_APP, OUT / "stage-signed", SIGNED_DMG, SIGNED_IMAGE_INFO)
    return {
        "actions": [_guard(run)],
        "file_dep": [*APP_FILES, sig_tar, *SIGNED_IMAGE_CODE, *BACKGROUND],
        "targets": [SIGNED_DMG, SIGNED_IMAGE_INFO],
        "uptodate": [config_changed({**_image_uptodate_options(), "sig": CFG.signature.sha256})],
        "clean": True,
    }


def task_checksums():
    """SHA256SUMS and the build manifest beside the DMG(s)."""
    outputs = {APP_TAR.name: APP_TAR, DMG.name: DMG}
    images = {DMG.name: IMAGE_INFO}
    signature = None
    if CFG.signature is not None:
        outputs[SIGNED_DMG.name] = SIGNED_DMG
        images[SIGNED_DMG.name] = SIGNED_IMAGE_INFO
        signature = {"path": CFG.signature.path, "sha256": CFG.signature.sha256}

    def run():
        data = manifest.release_manifest(
            app_manifest_path=APP_MANIFEST,
            images={name: manifest.read_json(path) for name, path in images.items()},
            outputs=outputs, signature=signature)
        manifest.write_json(RELEASE_MANIFEST, data)
        manifest.write_sha256sums(SUMS, {**data["outputs"],
                                         RELEASE_MANIFEST.name: manifest.sha256_file(RELEASE_MANIFEST)})
    return {
        "actions": [_guard(run)],
        "file_dep": [APP_MANIFEST, *outputs.values(), *images.values(), *CHECKSUMS_CODE],
        "targets": [RELEASE_MANIFEST, SUMS],
        "clean": True,
    }
