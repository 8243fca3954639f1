"""A seeded mutation fuzzer over the project's readers (``python -m
pipeline.fuzz``): each target starts from a valid input the project makes
itself, mutates it, and runs a reader on it.  A case passes when the reader
returns or raises the project's own error; anything else (another
exception, more than the per-case time, MemoryError) is a failure, and
failures are grouped by exception type and the line that raised it.

``mutate`` changes bytes the way hostile files differ from good ones: bit
flips, bytes set to boundary values, 32- and 64-bit words set to 0, -1,
2^31 and the like (counts, sizes and offsets), truncation, a range
duplicated or cut out.  ``targets`` defines what is fuzzed; ``run`` drives
it, the tests run a bounded number of cases, the command line a time.
"""

from .mutate import mutate
from .run import FuzzReport, run

__all__ = ["FuzzReport", "mutate", "run"]
