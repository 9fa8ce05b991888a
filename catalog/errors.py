"""Errors and reports for data loading: every problem names file, line, field and fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class DataError(ValueError):
    """A malformed input row or file.

    Attributes:
        path: The file that holds the problem.
        line: 1-based line (text files, counting the header) or row number (Parquet); None for
            a whole-file problem.
        field: The field at fault, or None.
        problem: What is wrong.
        fix: What to do about it.
    """

    def __init__(self, path: str | Path, line: int | None, field: str | None, problem: str, fix: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.problem = problem
        self.fix = fix
        where = self.path + (f", line {line}" if line is not None else "")
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{problem}. Fix: {fix}")


@dataclass
class LoadReport:
    """What a lenient load skipped: every skipped row is counted and the first ones kept."""

    rows_read: int = 0
    rows_kept: int = 0
    errors: list[DataError] = field(default_factory=list)
    skipped: int = 0
    keep_first: int = 100

    def skip(self, error: DataError) -> None:
        self.skipped += 1
        if len(self.errors) < self.keep_first:
            self.errors.append(error)

    def summary(self) -> str:
        head = f"read {self.rows_read} rows, kept {self.rows_kept}, skipped {self.skipped}"
        if not self.skipped:
            return head
        shown = "\n".join(f"  - {e}" for e in self.errors[:10])
        more = f"\n  ... and {self.skipped - 10} more" if self.skipped > 10 else ""
        return f"{head}:\n{shown}{more}"
