"""Icons for the volume: an ``.icns`` taken as it is, or a PNG turned into
one (Pillow scales it; ``pipeline.picture`` writes the PNG entries and the
container, so the bytes do not follow the host's zlib)."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, ReprodmgError
from ..picture import IcnsEntry, read_icns, write_icns, write_png

# One PNG per pixel size, under every type that size serves (the @2x types
# reuse the bytes of the same pixel size), largest last as iconutil orders them.
_TYPES_BY_SIZE = {
    16: [b"icp4"], 32: [b"icp5", b"ic11"], 64: [b"icp6", b"ic12"], 128: [b"ic07"],
    256: [b"ic08", b"ic13"], 512: [b"ic09", b"ic14"], 1024: [b"ic10"],
}
MAX_PICTURE_SIDE = 8192


def icns_bytes(path: Path, where: str) -> bytes:
    """The ``.icns`` for ``path`` (an .icns, checked, or a square PNG)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: {path.name}: cannot read: {exc.strerror}") from None
    if path.suffix.lower() == ".icns":
        try:
            read_icns(data, str(path))
        except ReprodmgError as exc:
            raise InputError(f"{where}: {exc}") from None
        return data
    return icns_from_png(data, f"{where}: {path.name}")


def icns_from_png(data: bytes, where: str) -> bytes:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != "PNG":
                raise InputError(f"{where}: not a PNG picture")
            if max(im.size) > MAX_PICTURE_SIDE:
                raise InputError(f"{where}: {im.size[0]}x{im.size[1]} is larger than "
                                 f"{MAX_PICTURE_SIDE} pixels a side")
            picture = im.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{where}: cannot read the picture: {exc}") from None
    w, h = picture.size
    if w != h:
        raise InputError(f"{where}: {w}x{h}: an icon must be square")
    entries = []
    for size, types in _TYPES_BY_SIZE.items():
        if size > max(w, 16):
            break
        scaled = picture if size == w else picture.resize((size, size), Image.Resampling.LANCZOS)
        png = write_png(size, size, scaled.tobytes())
        entries += [IcnsEntry(t, png) for t in types]
    return write_icns(entries)
