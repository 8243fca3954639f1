"""`reprodmg package`: a bundle built elsewhere -> the reproducible DMG.

For people who do not want a doit project: the release configuration gives
the image (volume name, format, layout, Finder window), the epoch and, when
it pins one, the detached signature; the bundle is imported without host
noise (``pipeline.build.prebuilt``) and goes through the same signature and
image stages as a doit build."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ..errors import InputError
from .output import emit_json


def register(groups: argparse._SubParsersAction) -> None:
    p = groups.add_parser("package", help="make the DMG of an .app built elsewhere",
                          description="Import APP (removing .DS_Store, __MACOSX and ._ files, "
                                      "host times, modes and extended attributes), apply the "
                                      "configuration's signature pin if it has one, and author "
                                      "the DMG the release configuration describes.")
    p.add_argument("app", metavar="APP", nargs="?",
                   help="the .app bundle (default: the configuration's app.prebuilt)")
    p.add_argument("--config", required=True, metavar="release.toml",
                   help="release configuration ([app], [dmg], [dmg.window], [signature])")
    p.add_argument("-o", "--output", required=True, metavar="NAME.dmg")
    p.add_argument("--json", action="store_true", help="print what was done as JSON")
    p.set_defaults(handler=cmd_package)


def cmd_package(args: argparse.Namespace) -> int:
    from ..build import config, image, prebuilt
    from ..build.signature import apply_signature
    from ..epoch import source_date_epoch
    from ..jsonfile import read_json
    cfg = config.load(args.config, packaging=True)
    epoch = source_date_epoch(cfg.source_date_epoch)
    if args.app is None and cfg.prebuilt is None:
        raise InputError(f"{args.config}: give APP, or name it in [app] prebuilt")
    out = Path(args.output)
    with tempfile.TemporaryDirectory(prefix=".reprodmg-package-",
                                     dir=out.parent if out.parent.is_dir() else None) as tmp:
        work = Path(tmp)
        if args.app is not None:
            prebuilt.check_info_plist(Path(args.app), cfg, args.app)
            app, report = prebuilt.import_app(args.app, work / "app", epoch=epoch,
                                              name=f"{cfg.name}.app")
            normalised = report.to_json()
        else:
            app = prebuilt.import_release_app(cfg, work / "app", work / "import.json",
                                              epoch=epoch)
            normalised = read_json(work / "import.json")["normalised"]
        if cfg.signature is not None:
            app = apply_signature(app, cfg.root / cfg.signature.path, cfg.signature.sha256,
                                  work / "signed" / app.name, epoch=epoch)
        info_path = work / "image.json"
        image.make_image(cfg, app, work / "stage", out, info_path, epoch=epoch)
        udif = read_json(info_path)["udif"]
    summary = {"output": os.fspath(out), "sha256": udif["sha256"], "format": udif["format"],
               "signed": cfg.signature is not None, "source_date_epoch": epoch,
               "normalised": normalised}
    if args.json:
        emit_json(summary)
    else:
        print(f"{out}: {summary['format']}{', signed' if summary['signed'] else ''}, "
              f"sha256 {summary['sha256']}")
        if normalised["removed"]:
            print(f"removed from the bundle: {', '.join(normalised['removed'])}")
        print(f"normalised: {normalised['modes']} mode(s), {normalised['times']} time(s); "
              f"{normalised['xattrs']} extended attribute(s) not copied")
    return 0
