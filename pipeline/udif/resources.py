"""The XML property list after the data fork: the ``resource-fork`` dict.

``blkx`` holds one entry per partition (its ``Data`` is a mish table);
``plst`` is one entry of 1032 zero bytes that hdiutil always writes.  Older
images add ``cSum``, ``nsiz`` and ``size``: kept as they are, never needed.
"""

from __future__ import annotations

import plistlib
from dataclasses import dataclass, field
from typing import Any

ATTRIBUTES = "0x0050"
PLST_DATA_SIZE = 1032
# QEMU's bound for the property list (block/dmg.c); real ones are kilobytes.
MAX_PLIST = 16 << 20


class ResourceError(Exception):
    """The property list is not a UDIF resource fork (the reader adds the path)."""


@dataclass
class BlkxEntry:
    id: int
    name: str
    data: bytes
    attributes: str = ATTRIBUTES
    cfname: str | None = None

    def to_plist(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"Attributes": self.attributes, "Data": self.data,
                                 "ID": str(self.id), "Name": self.name}
        if self.cfname is not None:
            entry["CFName"] = self.cfname
        return entry


@dataclass
class ResourceFork:
    blkx: list[BlkxEntry]
    # Every other resource type, verbatim (plst, cSum, nsiz, size, ...).
    others: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, xml: bytes) -> "ResourceFork":
        try:
            root = plistlib.loads(xml, fmt=plistlib.FMT_XML)
        except Exception as exc:  # plistlib raises many types for bad XML
            raise ResourceError(f"not a property list: {exc}") from None
        if not isinstance(root, dict) or not isinstance(root.get("resource-fork"), dict):
            raise ResourceError("no 'resource-fork' dictionary")
        fork = root["resource-fork"]
        raw_blkx = fork.get("blkx")
        if not isinstance(raw_blkx, list) or not raw_blkx:
            raise ResourceError("'blkx' is missing or empty")
        entries = []
        for i, item in enumerate(raw_blkx):
            if not isinstance(item, dict):
                raise ResourceError(f"blkx[{i}] is not a dictionary")
            data = item.get("Data")
            if not isinstance(data, bytes):
                raise ResourceError(f"blkx[{i}].Data is missing or not data")
            name = item.get("Name", item.get("CFName", ""))
            cfname = item.get("CFName")
            if not isinstance(name, str) or not (cfname is None or isinstance(cfname, str)):
                raise ResourceError(f"blkx[{i}].Name is not a string")
            try:
                ident = int(str(item.get("ID", i)))
            except ValueError:
                raise ResourceError(f"blkx[{i}].ID is not a number") from None
            attributes = item.get("Attributes", ATTRIBUTES)
            entries.append(BlkxEntry(ident, name, data, str(attributes), cfname))
        others = {k: v for k, v in fork.items() if k != "blkx"}
        return cls(entries, others)

    def pack(self) -> bytes:
        fork: dict[str, Any] = {"blkx": [e.to_plist() for e in self.blkx]}
        fork.update(self.others)
        # plistlib sorts keys and formats exactly as CoreFoundation does for
        # these types (tabs, 44-column base64 lines under <data>).
        return plistlib.dumps({"resource-fork": fork}, fmt=plistlib.FMT_XML,
                              sort_keys=True)


def default_plst() -> list[dict[str, Any]]:
    return [{"Attributes": ATTRIBUTES, "Data": bytes(PLST_DATA_SIZE), "ID": "0", "Name": ""}]
