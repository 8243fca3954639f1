"""Where each product lives in the bundle, the name it is loaded by, and
the run-path entries that find the libraries from there.

    framework  Contents/Frameworks/<N>.framework/Versions/A/<N>   @rpath/<N>.framework/Versions/A/<N>
    dylib      Contents/Frameworks/lib<N>.dylib                   @rpath/lib<N>.dylib
    helper     Contents/Helpers/<N> (or Contents/MacOS/<N>)
    plugin     Contents/PlugIns/<N>.bundle/Contents/MacOS/<N>

Every library sits in Contents/Frameworks, so each run path is the way
from the loading code's folder to that one folder (Apple's "Dynamic
Library Programming Topics", run-path dependent libraries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Product

FRAMEWORK_VERSION = "A"
MAIN_RPATH = "@executable_path/../Frameworks"
_RPATHS = {
    "helper": "@executable_path/../Frameworks",
    "plugin": "@loader_path/../../../../Frameworks",
    "framework": "@loader_path/../../..",
    "dylib": "@loader_path",
}
LINK_KIND = {"framework": "dylib", "dylib": "dylib", "helper": "executable", "plugin": "bundle"}


def framework_root(product: "Product") -> str:
    return f"Contents/Frameworks/{product.name}.framework"


def bundle_root(product: "Product") -> str | None:
    """The product's own bundle folder inside the app, if it is a bundle."""
    if product.kind == "framework":
        return framework_root(product)
    if product.kind == "plugin":
        return f"Contents/PlugIns/{product.name}.bundle"
    return None


def binary_path(product: "Product") -> str:
    """The product's Mach-O file, relative to the .app folder."""
    if product.kind == "framework":
        return f"{framework_root(product)}/Versions/{FRAMEWORK_VERSION}/{product.name}"
    if product.kind == "dylib":
        return f"Contents/Frameworks/{product.binary}"
    if product.kind == "helper":
        return f"Contents/{product.location or 'Helpers'}/{product.name}"
    return f"{bundle_root(product)}/Contents/MacOS/{product.name}"


def install_name(product: "Product") -> str | None:
    if product.kind == "framework":
        return f"@rpath/{product.name}.framework/Versions/{FRAMEWORK_VERSION}/{product.name}"
    if product.kind == "dylib":
        return f"@rpath/{product.binary}"
    return None


def rpaths(product: "Product | None", links: tuple[str, ...]) -> list[str]:
    """Run paths for code that links ``links`` (``product`` None: the main executable)."""
    if not links:
        return []
    return [MAIN_RPATH if product is None else _RPATHS[product.kind]]
