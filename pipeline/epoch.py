"""The one source of time: SOURCE_DATE_EPOCH.

Order of precedence: the environment variable, then the caller's value
(release configuration or command-line option), then 0.  Nothing in the
project reads the clock.
"""

from __future__ import annotations

import os

from .errors import InputError

# HFS+ dates are u32 seconds since 1904-01-01; the last one is 2040-02-06.
MAX_EPOCH = 0xFFFFFFFF - 2082844800


def source_date_epoch(configured: int | None = None,
                      environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
    raw = env.get("SOURCE_DATE_EPOCH")
    if raw is not None and raw.strip() != "":
        try:
            value = int(raw.strip(), 10)
        except ValueError:
            raise InputError(f"SOURCE_DATE_EPOCH: not an integer: {raw!r}") from None
        where = "SOURCE_DATE_EPOCH"
    else:
        value = 0 if configured is None else int(configured)
        where = "source_date_epoch"
    if not 0 <= value <= MAX_EPOCH:
        raise InputError(f"{where}: {value} is outside 0..{MAX_EPOCH} "
                         "(HFS+ dates end on 2040-02-06)")
    return value
