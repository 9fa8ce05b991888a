"""The named errors of trustrec, and the reports of data loading.

Every error a caller can fix is a :class:`TrustrecError` with a message that says what to do; the
API answers it with its ``status`` and the CLI with one line and exit code 2. Any other exception
is a bug: the API answers 500 with a logged trace, the CLI shows the traceback. Each subclass also
derives from the built-in it refines (``KeyError``, ``ValueError``, ``FileNotFoundError``), so code
that caught those still does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class TrustrecError(Exception):
    """An error the caller caused and can fix; ``str(e)`` says what to do."""

    status: int = 400

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else type(self).__name__


class NotFound(TrustrecError, KeyError):
    """Something named by id does not exist."""

    status = 404


class UnknownItem(NotFound):
    """An item id that is not in the catalog."""


class UnknownUser(NotFound):
    """A user id that is not in the dataset (new users have no id)."""


class UnknownSession(NotFound):
    """A session id the caller may not use or that does not exist."""


class BadInput(TrustrecError, ValueError):
    """A malformed argument: an id, a flag, a field value."""

    status = 422


class BadConstraint(BadInput):
    """A constraint field that does not exist or contradicts another (year_min after year_max)."""


class SessionBusy(TrustrecError):
    """A session is running another turn (in this process or, on a shared store, on another replica) and
    did not finish within the bounded wait; the caller retries after ``retry_after_s``."""

    status = 409
    retry_after_s = 2


class MissingFile(TrustrecError, FileNotFoundError):
    """A file the caller named (config, suite) does not exist."""

    status = 404


class ModelNotTrained(TrustrecError, FileNotFoundError):
    """A trained model was asked for and has no checkpoint; the message says which command trains it."""

    status = 503


class StoreUnavailable(TrustrecError, ConnectionError):
    """The configured store cannot be opened (a PostgreSQL server that does not answer, a missing
    driver); the message names the URL without its password and what to fix."""

    status = 503


class DataError(TrustrecError, ValueError):
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
