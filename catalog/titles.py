"""Catalog titles as people read them: a stored "Usual Suspects, The (1995)" shown as "The Usual Suspects".

Catalogs that file titles library-style (a trailing article, a year in brackets) are read here once, so the
explanation wording, the grounding guard and the claim checker show and compare the same display title.
"""

from __future__ import annotations

import re

__all__ = ["display_title", "without_year"]

_YEAR_SUFFIX = re.compile(r"\s*\(\d{4}\)\s*$")
_ARTICLE_SUFFIX = re.compile(r"^(.*), (The|A|An|Il|La|Le|Les|L'|Das|Der|Die|El|Los|Las)$")


def display_title(title: str) -> str:
    """'Usual Suspects, The (1995)' -> 'The Usual Suspects'."""
    t = _YEAR_SUFFIX.sub("", title.strip())
    m = _ARTICLE_SUFFIX.match(t)
    if m:
        sep = "" if m.group(2).endswith("'") else " "
        t = f"{m.group(2)}{sep}{m.group(1)}"
    return t


def without_year(title: str) -> str:
    """The stored title without a trailing "(1995)", its article left where the catalog put it."""
    return _YEAR_SUFFIX.sub("", title)
