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
import shutil
from pathlib import Path

from doit import get_var
from doit.dependency import FileChangedChecker
from doit.exceptions import TaskFailed
from doit.tools import config_changed

from pipeline.build import bundle, compiler, config, image, manifest, sdk, toolchain
from pipeline.build import signature as signature_stage, unsigned_tarball
from pipeline.build.code_inputs import code_files
from pipeline.build.paths import BuildPaths
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

P = BuildPaths.for_release(BUILD, CFG, PIN)
CACHE = Path(os.environ.get("REPRODMG_CACHE") or BUILD / "cache")
INPUTS = manifest.project_inputs(CFG)
HEADERS = [CFG.root / p for p in INPUTS if p.endswith(".h")]
TEMPLATES = {f"templates/{n}": bundle.TEMPLATES / n for n in ("Info.plist.j2", "PkgInfo.j2")}


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
                     [P.toolchain_json, CFG.toolchain_provider, CFG.toolchain_version])],
        "file_dep": [*deps, *TOOLCHAIN_CODE],
        "targets": [P.toolchain_json],
        "uptodate": [config_changed({"provider": CFG.toolchain_provider,
                                     "major": CFG.toolchain_version})],
        "clean": True,
    }


def task_sdk():
    """Check the pinned SDK tarball's hash, then extract it safely."""
    return {
        "actions": [(_guard(sdk.prepare), [PIN, CACHE, P.sdk_dir])],
        "file_dep": [PIN.path, *SDK_CODE],
        "targets": [P.sdk_stamp],
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
                compiler.compile_object(_tools(), source=source, source_root=CFG.root,
                                  out=P.obj(arch, source), arch=arch,
                                  minimum_macos=CFG.minimum_macos, sdk_root=P.sdk_root,
                                  build_root=BUILD, include_dirs=CFG.include_dirs,
                                  cflags=CFG.cflags, epoch=EPOCH, declared_inputs=INPUTS)
            yield {
                "name": f"{arch}:{source}",
                "actions": [_guard(run)],
                "file_dep": [CFG.root / source, *HEADERS, P.sdk_stamp, P.toolchain_json,
                             *COMPILE_CODE],
                "targets": [P.obj(arch, source)],
                "uptodate": [config_changed(_compile_options(arch))],
                "clean": True,
            }


def task_archive():
    """llvm-ar (deterministic) for each static library and architecture."""
    for arch in CFG.targets:
        for lib in CFG.libraries:
            objects = [P.obj(arch, s) for s in lib.sources]

            def run(arch=arch, lib=lib, objects=objects):
                compiler.archive(_tools(), objects=objects, out=P.lib(arch, lib.name), epoch=EPOCH)
            yield {
                "name": f"{arch}:{lib.name}",
                "actions": [_guard(run)],
                "file_dep": [*objects, P.toolchain_json, *COMPILE_CODE],
                "targets": [P.lib(arch, lib.name)],
                "clean": True,
            }


def task_link():
    """ld64.lld, one executable per architecture (arm64: lld's ad-hoc signature)."""
    for arch in CFG.targets:
        objects = [P.obj(arch, s) for s in CFG.sources]
        libs = [P.lib(arch, lib.name) for lib in CFG.libraries]

        def run(arch=arch, objects=objects, libs=libs):
            compiler.link(_tools(), objects=objects, libraries=libs, out=P.exe(arch), arch=arch,
                    minimum_macos=CFG.minimum_macos, sdk_root=P.sdk_root, epoch=EPOCH)
        yield {
            "name": arch,
            "actions": [_guard(run)],
            "file_dep": [*objects, *libs, P.sdk_stamp, P.toolchain_json, *COMPILE_CODE],
            "targets": [P.exe(arch)],
            "uptodate": [config_changed({"minimum_macos": CFG.minimum_macos, "epoch": EPOCH})],
            "clean": True,
        }


def task_lipo():
    """llvm-lipo: one universal executable."""
    slices = {arch: P.exe(arch) for arch in CFG.targets}

    def run():
        compiler.lipo(_tools(), slices=slices, out=P.universal, epoch=EPOCH)
    return {
        "actions": [_guard(run)],
        "file_dep": [*slices.values(), P.toolchain_json, *COMPILE_CODE],
        "targets": [P.universal],
        "clean": True,
    }


def task_bundle():
    """Name.app from templates/ (Info.plist, PkgInfo, executable, icon)."""
    icon = CFG.root / CFG.icon if CFG.icon else None
    info = bundle.bundle_info(CFG)
    return {
        "actions": [(_guard(bundle.build_app), [info],
                     {"executable": P.universal, "out_dir": P.out, "icon": icon, "epoch": EPOCH})],
        "file_dep": [P.universal, *TEMPLATES.values(), *([icon] if icon else []), *BUNDLE_CODE],
        "targets": P.app_files,
        # jinja2 renders the templates: another version may lay them out differently.
        "uptodate": [config_changed({"info": repr(info), "epoch": EPOCH,
                                     "jinja2": importlib.metadata.version("jinja2")})],
        "clean": [(_guard(shutil.rmtree), [P.app], {"ignore_errors": True})],
    }


def task_app_tarball():
    """The unsigned tarball for the signer: the .app, release.toml, build manifest."""
    return {
        "actions": [(_guard(unsigned_tarball.write_unsigned_release), [CFG, P],
                     {"epoch": EPOCH, "templates": TEMPLATES})],
        "file_dep": [*P.app_files, *(CFG.root / p for p in INPUTS), P.toolchain_json,
                     P.sdk_stamp, *TEMPLATES.values(), *TARBALL_CODE],
        "targets": [P.app_manifest, P.app_tar],
        "uptodate": [config_changed({"epoch": EPOCH})],
        "clean": True,
    }


# The image tasks' code (an upgraded HFS+/UDIF or signing library must
# rebuild the DMG) and the Finder layout's picture.
IMAGE_CODE = code_files("pipeline.build.image")
SIGNED_IMAGE_CODE = code_files("pipeline.build.image", "pipeline.build.signature")
BACKGROUND = [CFG.root / CFG.window.background] if CFG.window and CFG.window.background else []


def task_image():
    """Stage (.app + Applications link) -> HFS+ (+ Finder layout) -> UDIF."""
    return {
        "actions": [(_guard(image.make_image), [CFG, P.app, P.stage, P.dmg, P.image_info],
                     {"epoch": EPOCH})],
        "file_dep": [*P.app_files, *IMAGE_CODE, *BACKGROUND],
        "targets": [P.dmg, P.image_info],
        "uptodate": [config_changed(image.image_inputs(CFG, EPOCH))],
        "clean": True,
    }


def task_signed_image():
    """Signed path (when the release pins a signature tarball): apply -> verify -> image."""
    if CFG.signature is None:
        return {"actions": None, "doc": "no signature pinned in the release configuration",
                "uptodate": [True]}
    sig_tar = CFG.root / CFG.signature.path
    return {
        "actions": [(_guard(signature_stage.apply_signature),
                     [P.app, sig_tar, CFG.signature.sha256, P.signed_app], {"epoch": EPOCH}),
                    (_guard(image.make_image),
                     [CFG, P.signed_app, P.signed_stage, P.signed_dmg, P.signed_image_info],
                     {"epoch": EPOCH})],
        "file_dep": [*P.app_files, sig_tar, *SIGNED_IMAGE_CODE, *BACKGROUND],
        "targets": [P.signed_dmg, P.signed_image_info],
        "uptodate": [config_changed({**image.image_inputs(CFG, EPOCH),
                                     "sig": CFG.signature.sha256})],
        "clean": True,
    }


def task_checksums():
    """SHA256SUMS and the build manifest beside the DMG(s)."""
    outputs, images = manifest.release_outputs(CFG, P)
    return {
        "actions": [(_guard(manifest.write_checksums), [CFG, P])],
        "file_dep": [P.app_manifest, *outputs.values(), *images.values(), *CHECKSUMS_CODE],
        "targets": [P.release_manifest, P.sums],
        "clean": True,
    }
