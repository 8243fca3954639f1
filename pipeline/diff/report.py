"""The comparison's report, typed: what ``diff_images`` returns.

The top of the report and its sections are dataclasses; the per-partition
and per-path details inside them are plain JSON-shaped dictionaries, built
by the module that compares that level.  ``to_json()`` gives the structure
``reprodmg dmg diff --json`` prints (strings a terminal or UTF-8 cannot
carry escaped).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .common import printable_report


@dataclass
class FileComparison:
    """The two files as bytes: sizes, and where they first differ."""

    size: list[int]
    first_difference: int | None
    a: str | None = None          # the structure of A holding that byte
    b: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"size": self.size, "first_difference": self.first_difference}
        if self.a is not None or self.b is not None:
            out.update(a=self.a, b=self.b)
        return out


@dataclass
class ContainerReport:
    """Levels 1 and 2: koly fields, resources, and each pair of blkx entries."""

    koly: list[dict[str, Any]]
    resources: list[dict[str, Any]]
    partitions_only_in_a: list[str]
    partitions_only_in_b: list[str]
    partitions: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"koly": self.koly, "resources": self.resources,
                "partitions_only_in_a": self.partitions_only_in_a,
                "partitions_only_in_b": self.partitions_only_in_b,
                "partitions": self.partitions}


@dataclass
class ContentReport:
    """Level 3: the expanded disks and each pair of partitions."""

    disk_equal: bool
    sector_count: list[int]
    partitions: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"disk_equal": self.disk_equal, "sector_count": self.sector_count,
                "partitions": self.partitions}


@dataclass
class DiffReport:
    a: str
    b: str
    identical: bool
    verdict: str                  # "identical", "encoding" (same content) or "content"
    file: FileComparison
    summary: list[str] = field(default_factory=list)
    container: ContainerReport | None = None
    content: ContentReport | None = None
    manifest: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"a": self.a, "b": self.b, "identical": self.identical,
                               "verdict": self.verdict, "file": self.file.to_json(),
                               "summary": self.summary}
        if self.container is not None:
            out["container"] = self.container.to_json()
        if self.content is not None:
            out["content"] = self.content.to_json()
        if self.manifest is not None:
            out["manifest"] = self.manifest
        return printable_report(out)

    @property
    def exit_status(self) -> int:
        """0 identical, 1 different."""
        return 0 if self.identical else 1
