"""Versions of reprodmg and of the libraries that shape its output bytes.

Shown by ``reprodmg --version`` so a builder comparing hashes with someone
else can see at once whether their compressor and signer libraries agree;
the build manifests record the same versions for each artifact.
"""

from __future__ import annotations

from importlib import metadata

# Python distributions whose version changes output bytes, with what they make.
OUTPUT_SHAPING_PACKAGES: dict[str, str] = {
    "deflate": "UDZO chunks (libdeflate)",
    "lzfse": "ULFO chunks (LZFSE reference)",
    "ds_store": "Finder window .DS_Store",
    "mac_alias": "background picture alias",
    "pillow": "window preview, two-page backgrounds, icons from PNG (with its FreeType)",
    "jinja2": "Info.plist and PkgInfo templates",
    "asn1crypto": "code-signature CMS structures",
    "cryptography": "code-signature CMS signing",
    "doit": "task graph",
}


def distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def version_report() -> str:
    """The text of ``reprodmg --version``."""
    from .codecs import implementation

    lines = [f"reprodmg {distribution_version('reprodmg')}"]
    for name, role in OUTPUT_SHAPING_PACKAGES.items():
        lines.append(f"  {name} {distribution_version(name)}: {role}")
    for codec in ("bzip2", "lzma"):
        impl = implementation(codec)
        lines.append(f"  {impl['implementation']} {impl['version']}: "
                     f"{'UDBZ' if codec == 'bzip2' else 'ULMO'} chunks")
    return "\n".join(lines)
