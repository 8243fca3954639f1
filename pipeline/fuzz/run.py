"""Running targets: cases, outcomes, distinct failures."""

from __future__ import annotations

import random
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ReprodmgError
from .mutate import mutate
from .targets import TARGETS, Target


@dataclass
class Failure:
    target: str
    key: str                  # exception type and where it was raised
    message: str
    case: int
    count: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "key": self.key, "message": self.message,
                "first_case": self.case, "count": self.count}


@dataclass
class FuzzReport:
    seed: int
    cases: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)      # project errors (expected)
    failures: dict[tuple[str, str], Failure] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "seconds": round(self.seconds, 1),
                "cases": self.cases, "total_cases": sum(self.cases.values()),
                "project_errors": self.errors,
                "distinct_failures": len(self.failures),
                "failures": [f.to_json() for f in self.failures.values()]}


class _Timeout(BaseException):
    """Raised by the alarm: a case ran past its time (not an Exception, so
    no reader's handler swallows it)."""


def _alarm(_signum, _frame):
    raise _Timeout()


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/pipeline/" in f.filename and "/fuzz/" not in f.filename]
    frame = (ours or frames or [None])[-1]
    if frame is None:
        return type(exc).__name__
    return f"{type(exc).__name__} at {Path(frame.filename).name}:{frame.lineno}"


def run(*, seed: int = 0, cases_per_target: int | None = None, seconds: float | None = None,
        targets: list[str] | None = None, case_seconds: float = 10.0,
        progress=None) -> FuzzReport:
    """Fuzz ``targets`` (all by default) round robin, for ``cases_per_target``
    cases each or for ``seconds``."""
    chosen = [TARGETS[name] for name in (targets or sorted(TARGETS))]
    report = FuzzReport(seed)
    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        with tempfile.TemporaryDirectory(prefix="reprodmg-fuzz-") as tmp:
            work = Path(tmp)
            seeds = {t.name: t.make_seed(work / f"seed-{t.name}") for t in chosen}
            rng = random.Random(seed)
            case = 0
            while True:
                if cases_per_target is not None and case >= cases_per_target * len(chosen):
                    break
                if seconds is not None and time.monotonic() - start >= seconds:
                    break
                target = chosen[case % len(chosen)]
                data = mutate(seeds[target.name], rng, hot=target.hot)
                _one(target, data, work, case, report, case_seconds)
                case += 1
                if progress is not None:
                    progress(case)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    report.seconds = time.monotonic() - start
    return report


def _one(target: Target, data: bytes, work: Path, case: int, report: FuzzReport,
         case_seconds: float) -> None:
    report.cases[target.name] = report.cases.get(target.name, 0) + 1
    signal.setitimer(signal.ITIMER_REAL, case_seconds)
    try:
        target.run(data, work / f"case-{target.name}")
    except ReprodmgError as exc:
        name = type(exc).__name__
        report.errors[name] = report.errors.get(name, 0) + 1
        return
    except _Timeout:
        key, message = "timeout", f"more than {case_seconds} s"
    except (Exception, RecursionError) as exc:     # noqa: B902 - what the fuzzer looks for
        key, message = _where(exc), str(exc)[:300]
    else:
        return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    found = report.failures.get((target.name, key))
    if found is None:
        report.failures[(target.name, key)] = Failure(target.name, key, message, case)
    else:
        found.count += 1
