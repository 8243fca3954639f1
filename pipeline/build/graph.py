"""The doit task graph of one release: [toolchain_source ->] toolchain -> sdk -> compile ->
archive/link -> lipo -> bundle (or, for a prebuilt bundle, import) ->
unsigned tarball -> image -> SHA256SUMS + build manifest.

Tasks only wire; every action is a plain function of ``pipeline.build``.
Each task declares its file inputs (file_dep), its targets, and the options
that shape its output (``config_changed``), so a second run with nothing
changed runs nothing and an edited source reruns only its own chain.

The same graph serves the project's ``dodo.py`` (``doit -f dodo.py``) and
``reprodmg build release.toml`` (doit's API, for a user's own repository).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

from doit.dependency import FileChangedChecker
from doit.exceptions import TaskFailed
from doit.tools import config_changed

from ..epoch import source_date_epoch
from ..errors import InputError, ReprodmgError
from . import bundle, compiler, config, image, manifest, prebuilt, sdk, source_toolchain, toolchain
from . import products as products_layout
from . import signature as signature_stage, unsigned_tarball
from .code_inputs import code_files
from .paths import BuildPaths
from .shipped import PATCHES_DIR, SDK_PINS_DIR


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


def guarded(fn: Callable) -> Callable:
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


# The code of each stage is an input of its tasks too: a changed flag in the
# compiler stage or a changed tarball writer must rebuild, never leave a
# stale output that looks up to date.  Derived from the stage modules'
# imports (pipeline.build.code_inputs), through the imported package, so a
# checkout outside the project folder is tracked as well.
TOOLCHAIN_CODE = code_files("pipeline.build.toolchain")
SOURCE_TOOLCHAIN_CODE = code_files("pipeline.build.source_toolchain")
SDK_CODE = code_files("pipeline.build.sdk")
COMPILE_CODE = code_files("pipeline.build.compiler")
BUNDLE_CODE = code_files("pipeline.build.bundle")
IMPORT_CODE = code_files("pipeline.build.prebuilt")
ADHOC_CODE = code_files("pipeline.build.signature")
TARBALL_CODE = code_files("pipeline.build.unsigned_tarball", "pipeline.build.manifest")
CHECKSUMS_CODE = code_files("pipeline.build.manifest")
# An upgraded HFS+/UDIF or signing library must rebuild the DMG.
IMAGE_CODE = code_files("pipeline.build.image")
SIGNED_IMAGE_CODE = code_files("pipeline.build.image", "pipeline.build.signature")

COMPILED_TASKS = ("toolchain", "sdk", "compile", "archive", "link", "lipo", "bundle")
PREBUILT_TASKS = ("import_app",)
BACK_HALF_TASKS = ("app_tarball", "image", "signed_image", "checksums")


def find_recipe(name: str, dirs: Sequence[Path]) -> Path:
    """``<dir>/<name>/recipe.toml`` in the first of ``dirs`` that has it."""
    for folder in dirs:
        if (folder / name / "recipe.toml").is_file():
            return folder / name / "recipe.toml"
    raise InputError(f"toolchain recipe {name!r}: no {name}/recipe.toml in "
                            + " or ".join(str(d) for d in dict.fromkeys(dirs)))


class ReleaseGraph:
    """The tasks of one release configuration, building under ``build``."""

    def __init__(self, release: str | os.PathLike, *, build: str | os.PathLike,
                 cache: str | os.PathLike | None = None,
                 pins_dirs: Sequence[str | os.PathLike] = ()) -> None:
        self.cfg = config.load(release)
        self.epoch = source_date_epoch(self.cfg.source_date_epoch)
        self.build = Path(build)
        self.cache = Path(cache) if cache else self.build / "cache"
        # A project's own pins first (sdk/ beside the configuration), then the shipped ones.
        dirs = [*map(Path, pins_dirs), self.cfg.root / "sdk", SDK_PINS_DIR]
        self.pin = (None if self.cfg.prebuilt else
                    sdk.find_pin(list(dict.fromkeys(dirs)), self.cfg.sdk_name,
                                 self.cfg.sdk_sha256))
        self.paths = BuildPaths.for_release(self.build, self.cfg, self.pin)
        # Provider "source": the recipes (a project's own patches/ first, then
        # the shipped ones) and the trees they install for today's inputs.
        self.recipes = [source_toolchain.load_recipe(
                            find_recipe(name, [self.cfg.root / "patches", PATCHES_DIR]))
                        for name in self.cfg.toolchain_recipes]
        self.trees = [source_toolchain.planned_tree(r, self.cache) for r in self.recipes]
        # Trees another release's tasks build in the same doit run (combined_namespace).
        self.trees_built_elsewhere: set[Path] = set()
        self.inputs = manifest.project_inputs(self.cfg)
        names = ["Info.plist.j2", "PkgInfo.j2"]
        if any(p.kind in ("framework", "plugin") for p in self.cfg.products):
            names.append("Bundle-Info.plist.j2")
        self.templates = ({} if self.cfg.prebuilt else
                          {f"templates/{n}": bundle.TEMPLATES / n for n in names})
        # The files the image reads besides the app: pictures and icons.
        self.image_files = [self.cfg.root / rel for rel in self.cfg.image_files()]

    def doit_config(self, default_tasks: Sequence[str] = ("checksums",)) -> dict[str, Any]:
        return {
            "dep_file": os.fspath(self.build / ".doit.db"),
            "backend": "json",
            "check_file_uptodate": ContentChecker,
            "default_tasks": list(default_tasks),
            "verbosity": 1,
        }

    def task_creators(self, prefix: str = "", *, without: Sequence[str] = ()) -> dict[str, Any]:
        """``task_<prefix><name>`` for each task of this release (doit names a
        task after its key), leaving out ``without`` (another release's graph
        already makes the shared SDK)."""
        front = PREBUILT_TASKS if self.cfg.prebuilt else COMPILED_TASKS
        if self.recipes:
            front = ("toolchain_source", *front)
        if self.cfg.products:
            front = (*front, "lipo_products")
        names = [n for n in (*front, *BACK_HALF_TASKS) if n not in without]
        return {f"task_{prefix}{name}": getattr(self, f"task_{name}") for name in names}

    def namespace(self) -> dict[str, Any]:
        """What doit loads tasks from: DOIT_CONFIG and the task creators of this release."""
        return {"DOIT_CONFIG": self.doit_config(), **self.task_creators()}


    # ------------------------------------------------------------------
    # The app, compiled here

    def _tools(self) -> dict[str, str]:
        return toolchain.locate(self.cfg.toolchain_provider, self.cfg.toolchain_version,
                                built=self.trees)

    @property
    def _headers(self) -> list[Path]:
        return [self.cfg.root / p for p in self.inputs if p.endswith(manifest.HEADER_SUFFIXES)]

    def task_toolchain_source(self):
        """Build the linker and binutils from pinned sources with the
        project's patches (provider "source"); an installed key is reused."""
        for recipe, tree in zip(self.recipes, self.trees):
            if tree.path in self.trees_built_elsewhere:
                continue
            yield {
                "name": recipe.name,
                "actions": [(guarded(source_toolchain.provide), [recipe, self.cache])],
                "file_dep": [recipe.path, *source_toolchain.patch_series(recipe),
                             *(recipe.patches_dir / rel for rel in recipe.support),
                             *SOURCE_TOOLCHAIN_CODE],
                # The folder's name is the key of every input, so a tree that
                # exists is the one today's inputs build.
                "targets": [tree.path / source_toolchain.MANIFEST,
                            *(tree.path / dest for dest in tree.installs)],
                "verbosity": 2,
            }

    def task_toolchain(self):
        """Resolve the LLVM tools and record versions and hashes."""
        cfg, P = self.cfg, self.paths
        try:
            deps = [str(p) for p in toolchain.tool_paths(cfg.toolchain_provider,
                                                         cfg.toolchain_version, built=self.trees)]
        except ReprodmgError:
            deps = []      # the action reports what to install
        built = [str(t.path / source_toolchain.MANIFEST) for t in self.trees]
        return {
            "actions": [(guarded(toolchain.write_manifest),
                         [P.toolchain_json, cfg.toolchain_provider, cfg.toolchain_version,
                          self.trees])],
            "file_dep": [*deps, *built, *TOOLCHAIN_CODE],
            "targets": [P.toolchain_json],
            "uptodate": [config_changed({"provider": cfg.toolchain_provider,
                                         "major": cfg.toolchain_version,
                                         "recipes": [t.path.name for t in self.trees]})],
            "clean": True,
        }

    def task_sdk(self):
        """Check the pinned SDK tarball's hash, then extract it safely."""
        return {
            "actions": [(guarded(sdk.prepare), [self.pin, self.cache, self.paths.sdk_dir])],
            "file_dep": [self.pin.path, *SDK_CODE],
            "targets": [self.paths.sdk_stamp],
            "uptodate": [config_changed({"sha256": self.pin.sha256, "root": self.pin.root})],
            "clean": True,
        }

    def _compile_options(self, arch: str, source: str) -> dict:
        cfg = self.cfg
        options = {"arch": arch, "minimum_macos": cfg.minimum_macos, "cflags": list(cfg.cflags),
                   "include_dirs": list(cfg.include_dirs), "epoch": self.epoch}
        language = compiler.language_flags(source, cxx_standard=cfg.cxx_standard,
                                           objc_arc=cfg.objc_arc)
        return {**options, "language": language} if language else options

    def task_compile(self):
        """clang -c, one task per (architecture, source)."""
        cfg, P = self.cfg, self.paths
        for arch in cfg.targets:
            for source in cfg.all_sources():
                def run(arch=arch, source=source):
                    compiler.compile_object(
                        self._tools(), source=source, source_root=cfg.root,
                        out=P.obj(arch, source), arch=arch, minimum_macos=cfg.minimum_macos,
                        sdk_root=P.sdk_root, build_root=self.build,
                        include_dirs=cfg.include_dirs, cflags=cfg.cflags, epoch=self.epoch,
                        declared_inputs=self.inputs, cxx_standard=cfg.cxx_standard,
                        objc_arc=cfg.objc_arc)
                yield {
                    "name": f"{arch}:{source}",
                    "actions": [guarded(run)],
                    "file_dep": [cfg.root / source, *self._headers, P.sdk_stamp,
                                 P.toolchain_json, *COMPILE_CODE],
                    "targets": [P.obj(arch, source)],
                    "uptodate": [config_changed(self._compile_options(arch, source))],
                    "clean": True,
                }

    def task_archive(self):
        """llvm-ar (deterministic) for each static library and architecture."""
        cfg, P = self.cfg, self.paths
        for arch in cfg.targets:
            for lib in cfg.libraries:
                objects = [P.obj(arch, s) for s in lib.sources]

                def run(arch=arch, lib=lib, objects=objects):
                    compiler.archive(self._tools(), objects=objects, out=P.lib(arch, lib.name),
                                     epoch=self.epoch)
                yield {
                    "name": f"{arch}:{lib.name}",
                    "actions": [guarded(run)],
                    "file_dep": [*objects, P.toolchain_json, *COMPILE_CODE],
                    "targets": [P.lib(arch, lib.name)],
                    "clean": True,
                }

    def task_link(self):
        """ld64.lld, per architecture: the executable and each product (arm64: lld's
        ad-hoc signature)."""
        cfg, P = self.cfg, self.paths
        for arch in cfg.targets:
            objects = [P.obj(arch, s) for s in cfg.sources]
            libs = [*(P.lib(arch, lib.name) for lib in cfg.libraries),
                    *(P.product_exe(arch, cfg.product(n)) for n in cfg.links)]
            runtime = compiler.runtime_libraries(
                [*cfg.sources, *(s for lib in cfg.libraries for s in lib.sources)])
            rpaths = products_layout.rpaths(None, cfg.links)

            def run(arch=arch, objects=objects, libs=libs, runtime=runtime, rpaths=rpaths):
                compiler.link(self._tools(), objects=objects, libraries=libs, out=P.exe(arch),
                              arch=arch, minimum_macos=cfg.minimum_macos, sdk_root=P.sdk_root,
                              epoch=self.epoch, rpaths=rpaths, runtime=runtime)
            yield {
                "name": arch,
                "actions": [guarded(run)],
                "file_dep": [*objects, *libs, P.sdk_stamp, P.toolchain_json, *COMPILE_CODE],
                "targets": [P.exe(arch)],
                "uptodate": [config_changed({"minimum_macos": cfg.minimum_macos,
                                             "epoch": self.epoch,
                                             **({"rpaths": rpaths, "runtime": runtime}
                                                if rpaths or runtime else {})})],
                "clean": True,
            }
            for product in cfg.products:
                yield self._link_product(arch, product)

    def _link_product(self, arch: str, product: "config.Product") -> dict:
        cfg, P = self.cfg, self.paths
        objects = [P.obj(arch, s) for s in product.sources]
        libs = [P.product_exe(arch, cfg.product(n)) for n in product.links]
        options = {"kind": products_layout.LINK_KIND[product.kind],
                   "install_name": products_layout.install_name(product),
                   "rpaths": products_layout.rpaths(product, product.links),
                   "runtime": compiler.runtime_libraries(product.sources)}

        def run():
            compiler.link(self._tools(), objects=objects, libraries=libs,
                          out=P.product_exe(arch, product), arch=arch,
                          minimum_macos=cfg.minimum_macos, sdk_root=P.sdk_root,
                          epoch=self.epoch, **options)
        return {
            "name": f"{arch}:{product.name}",
            "actions": [guarded(run)],
            "file_dep": [*objects, *libs, P.sdk_stamp, P.toolchain_json, *COMPILE_CODE],
            "targets": [P.product_exe(arch, product)],
            "uptodate": [config_changed({**options, "minimum_macos": cfg.minimum_macos,
                                         "epoch": self.epoch})],
            "clean": True,
        }

    def task_lipo(self):
        """llvm-lipo: one universal executable."""
        P = self.paths
        slices = {arch: P.exe(arch) for arch in self.cfg.targets}

        def run():
            compiler.lipo(self._tools(), slices=slices, out=P.universal, epoch=self.epoch)
        return {
            "actions": [guarded(run)],
            "file_dep": [*slices.values(), P.toolchain_json, *COMPILE_CODE],
            "targets": [P.universal],
            "clean": True,
        }

    def task_lipo_products(self):
        """llvm-lipo: one universal binary per product."""
        P = self.paths
        for product in self.cfg.products:
            slices = {arch: P.product_exe(arch, product) for arch in self.cfg.targets}

            def run(product=product, slices=slices):
                compiler.lipo(self._tools(), slices=slices, out=P.product_universal(product),
                              epoch=self.epoch)
            yield {
                "name": product.name,
                "actions": [guarded(run)],
                "file_dep": [*slices.values(), P.toolchain_json, *COMPILE_CODE],
                "targets": [P.product_universal(product)],
                "clean": True,
            }

    def _resource_files(self) -> list[Path]:
        """The resources' files, as the project's inputs already list them."""
        return [self.cfg.root / p for p in self.inputs
                if any(p == r or p.startswith(f"{r}/") for r in self.cfg.resources)]

    def task_bundle(self):
        """Name.app from templates/ (Info.plist, PkgInfo, executable, icon,
        resources, products)."""
        cfg, P = self.cfg, self.paths
        icon = cfg.root / cfg.icon if cfg.icon else None
        info = bundle.bundle_info(cfg)
        products = [(p, P.product_universal(p)) for p in cfg.products]
        extra = {}
        if cfg.products or cfg.resources:
            extra = {"products": repr(cfg.products), "resources": list(cfg.resources)}
        return {
            "actions": [(guarded(bundle.build_app), [info],
                         {"executable": P.universal, "out_dir": P.out, "icon": icon,
                          "epoch": self.epoch, "products": products,
                          "resources": [cfg.root / r for r in cfg.resources]}),
                        *self._finish_app()],
            "file_dep": [P.universal, *self.templates.values(), *([icon] if icon else []),
                         *(b for _p, b in products), *self._resource_files(),
                         *BUNDLE_CODE, *self._signing_deps()],
            "targets": [*P.app_files, P.app_stamp],
            # jinja2 renders the templates: another version may lay them out differently.
            "uptodate": [config_changed({"info": repr(info), "epoch": self.epoch,
                                         "jinja2": importlib.metadata.version("jinja2"),
                                         "signing": repr(self.cfg.signing), **extra})],
            "clean": [(guarded(shutil.rmtree), [P.app], {"ignore_errors": True})],
        }

    # ------------------------------------------------------------------
    # The app, built elsewhere

    def task_import_app(self):
        """A prebuilt bundle, copied in without the build host's noise."""
        cfg, P = self.cfg, self.paths
        files, links = prebuilt.source_listing(cfg.root / cfg.prebuilt.path)
        return {
            "actions": [(guarded(prebuilt.import_release_app), [cfg, P.out, P.import_report],
                         {"epoch": self.epoch}), *self._finish_app()],
            "file_dep": [*files, *IMPORT_CODE, *self._signing_deps()],
            "targets": [P.import_report, P.app_stamp],
            "uptodate": [config_changed({"prebuilt": repr(cfg.prebuilt),
                                         "signing": repr(cfg.signing),
                                         "links": links,
                                         "name": cfg.name, "bundle_id": cfg.bundle_id,
                                         "version": cfg.version, "epoch": self.epoch})],
            "clean": [(guarded(shutil.rmtree), [P.app], {"ignore_errors": True})],
        }

    # ------------------------------------------------------------------
    # The back half: the same for both

    def _finish_app(self) -> list:
        """The last actions of the bundle and import tasks: the optional
        ad-hoc signature of the whole tree, then the app's listing."""
        cfg, P = self.cfg, self.paths
        sign = [(guarded(signature_stage.adhoc_sign), [P.app, cfg.signing, cfg.root],
                 {"epoch": self.epoch})] if cfg.signing.adhoc else []
        return [*sign, (guarded(manifest.write_app_stamp), [P.app, P.app_stamp])]

    def _signing_deps(self) -> list[Path]:
        deps = [self.cfg.root / f for f in self.cfg.signing.files()]
        return [*deps, *ADHOC_CODE] if self.cfg.signing.adhoc else deps

    def _app_deps(self) -> list[Path]:
        """The file that changes when the app does: the finished bundle's listing."""
        return [self.paths.app_stamp]

    def task_app_tarball(self):
        """The unsigned tarball for the signer: the .app, release.toml, build manifest."""
        cfg, P = self.cfg, self.paths
        made_by = ([] if cfg.prebuilt else
                   [P.toolchain_json, P.sdk_stamp, *self.templates.values()])
        return {
            "actions": [(guarded(unsigned_tarball.write_unsigned_release), [cfg, P],
                         {"epoch": self.epoch, "templates": self.templates})],
            "file_dep": [*self._app_deps(), *(cfg.root / p for p in self.inputs), *made_by,
                         *TARBALL_CODE],
            "targets": [P.app_manifest, P.app_tar],
            "uptodate": [config_changed({"epoch": self.epoch})],
            "clean": True,
        }

    def task_image(self):
        """Stage (.app + Applications link) -> HFS+ (+ Finder layout) -> UDIF -> preview."""
        cfg, P = self.cfg, self.paths
        return {
            "actions": [(guarded(image.make_image), [cfg, P.app, P.stage, P.dmg, P.image_info],
                         {"epoch": self.epoch, "preview_path": P.preview})],
            "file_dep": [*self._app_deps(), *IMAGE_CODE, *self.image_files],
            "targets": [P.dmg, P.image_info, P.preview],
            "uptodate": [config_changed(image.image_inputs(cfg, self.epoch))],
            "clean": True,
        }

    def task_signed_image(self):
        """Signed path (when the release pins a signature tarball): apply -> verify -> image."""
        cfg, P = self.cfg, self.paths
        if cfg.signature is None:
            return {"actions": None, "doc": "no signature pinned in the release configuration",
                    "uptodate": [True]}
        sig_tar = cfg.root / cfg.signature.path
        actions = [(guarded(signature_stage.apply_signature),
                    [P.app, sig_tar, cfg.signature.sha256, P.signed_app], {"epoch": self.epoch}),
                   (guarded(image.make_image),
                    [cfg, P.signed_app, P.signed_stage, P.signed_dmg, P.signed_image_info],
                    {"epoch": self.epoch})]
        dmg_sig = cfg.signature.dmg
        extra = []
        if dmg_sig is not None:
            # The signer signed, notarized and stapled this very DMG and
            # detached its signature: every builder ends with the same file.
            extra = [cfg.root / dmg_sig.path]
            actions.append((guarded(signature_stage.apply_dmg_signature),
                            [P.signed_dmg, extra[0], dmg_sig.sha256, P.signed_image_info]))
        return {
            "actions": actions,
            "file_dep": [*self._app_deps(), sig_tar, *extra, *SIGNED_IMAGE_CODE,
                         *self.image_files],
            "targets": [P.signed_dmg, P.signed_image_info],
            "uptodate": [config_changed({**image.image_inputs(cfg, self.epoch),
                                         "sig": cfg.signature.sha256,
                                         "dmg_sig": dmg_sig.sha256 if dmg_sig else None})],
            "clean": True,
        }

    def task_checksums(self):
        """SHA256SUMS and the build manifest beside the DMG(s)."""
        cfg, P = self.cfg, self.paths
        outputs, images = manifest.release_outputs(cfg, P)
        return {
            "actions": [(guarded(manifest.write_checksums), [cfg, P])],
            "file_dep": [P.app_manifest, *outputs.values(), *images.values(), *CHECKSUMS_CODE],
            "targets": [P.release_manifest, P.sums],
            "clean": True,
        }


def combined_namespace(graphs: Sequence[ReleaseGraph]) -> dict[str, Any]:
    """Several releases in one doit run: the first one's tasks keep their
    names, the others' are prefixed ``<slug>_``; a release pinning the SDK
    an earlier one extracts shares that extraction, and one whose source
    recipes an earlier one builds shares those builds."""
    if len({g.build for g in graphs}) != 1:
        raise ValueError("releases built together share one build folder")
    names: dict[str, Any] = {}
    defaults = []
    extracted: set[Path] = set()
    built: set[Path] = set()
    for i, graph in enumerate(graphs):
        prefix = "" if i == 0 else f"{graph.cfg.slug}_"
        shared: tuple[str, ...] = ()
        if graph.pin is not None and graph.paths.sdk_dir in extracted:
            shared += ("sdk",)
        if graph.pin is not None:
            extracted.add(graph.paths.sdk_dir)
        graph.trees_built_elsewhere = {t.path for t in graph.trees} & built
        built |= {t.path for t in graph.trees}
        if graph.trees and all(t.path in graph.trees_built_elsewhere for t in graph.trees):
            shared += ("toolchain_source",)
        creators = graph.task_creators(prefix, without=shared)
        clash = set(creators) & set(names)
        if clash:
            raise ReprodmgError(f"{graph.cfg.path}: two releases named {graph.cfg.slug!r}")
        names.update(creators)
        defaults.append(f"{prefix}checksums")
    return {"DOIT_CONFIG": graphs[0].doit_config(defaults), **names}
