"""Dataset loaders: MovieLens-100k (GroupLens native and RecBole atomic files), Amazon Reviews
2023 JSONL, and generic CSV/Parquet with a column mapping.

Strict mode (the default) raises :class:`~catalog.errors.DataError` at the first bad row,
naming file, line, field and fix. Lenient mode skips bad rows and records each in a
:class:`~catalog.errors.LoadReport`; nothing is dropped silently.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from catalog.errors import DataError, LoadReport
from catalog.types import INTERACTION_COLUMNS, Dataset, InteractionKind, Item, RatingStats, User

ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip

_KINDS = {k.value for k in InteractionKind}
# RecBole writes a missing release year as "unkonwn" (sic) in ml-100k.item
_UNKNOWN_TOKENS = {"", "unknown", "unkonwn"}


class _Rows:
    """Collects parsed rows; raises or records each bad one."""

    def __init__(self, report: LoadReport | None) -> None:
        self.report = report

    def bad(self, err: DataError) -> None:
        if self.report is None:
            raise err
        self.report.skip(err)


def _split_title_year(title: str) -> tuple[str, int | None]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``; titles without a year pass through."""
    if title.endswith(")") and "(" in title:
        head, _, tail = title.rpartition("(")
        if tail[:-1].isdigit() and len(tail[:-1]) == 4:
            return head.strip(), int(tail[:-1])
    return title, None


def _text_lines(path: Path, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise DataError(path, None, None, "file not found", "check the path or run `trustrec data prepare`")
    # Amazon Reviews 2023 ships its category files gzipped (<Category>.jsonl.gz): read them as they come
    with (
        gzip.open(path, "rt", encoding=encoding, newline="")
        if path.suffix == ".gz"
        else path.open(encoding=encoding, newline="") as f
    ):
        for i, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if line.strip():
                yield i, line


def _num(
    value: str | float | int | None,
    *,
    path: Path,
    line: int,
    name: str,
    required: bool = True,
    integer: bool = False,
    minimum: float | None = None,
) -> float | None:
    if (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, float) and math.isnan(value))
    ):
        if required:
            raise DataError(path, line, name, "missing value", f"give {name} a number")
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(path, line, name, f"{value!r} is not a number", f"write {name} as a number") from None
    if not math.isfinite(x):
        raise DataError(path, line, name, f"{value!r} is not finite", f"write {name} as a finite number")
    if integer and x != int(x):
        raise DataError(path, line, name, f"{value!r} is not an integer", f"write {name} as an integer")
    if minimum is not None and x < minimum:
        raise DataError(path, line, name, f"{value!r} is below {minimum}", f"use {name} >= {minimum}")
    return x


def _ident(value: Any, *, path: Path, line: int, name: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise DataError(path, line, name, "missing id", f"give every row a non-empty {name}")
    s = str(value).strip()
    if isinstance(value, float) and value.is_integer():
        s = str(int(value))
    if not s:
        raise DataError(path, line, name, "empty id", f"give every row a non-empty {name}")
    return s


def _interactions_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=INTERACTION_COLUMNS)
    for c in ("value", "timestamp", "dwell_seconds", "amount"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    return df


def _finish(
    name: str,
    items: list[Item],
    users: list[User],
    rows: list[tuple[int, Path, dict[str, Any]]],
    collect: _Rows,
    *,
    create_users: bool,
    rating_stats: bool = True,
) -> Dataset:
    """Check references, add rating statistics, build the Dataset."""
    item_ids = {it.item_id for it in items}
    user_ids = {u.user_id for u in users}
    kept: list[dict[str, Any]] = []
    for line, path, row in rows:
        if row["item_id"] not in item_ids:
            collect.bad(
                DataError(
                    path,
                    line,
                    "item_id",
                    f"unknown item {row['item_id']!r}",
                    "add the item to the item file or remove this row",
                )
            )
            continue
        if row["user_id"] not in user_ids:
            if not create_users:
                collect.bad(
                    DataError(
                        path,
                        line,
                        "user_id",
                        f"unknown user {row['user_id']!r}",
                        "add the user to the user file or remove this row",
                    )
                )
                continue
            user_ids.add(row["user_id"])
            users.append(User(user_id=row["user_id"]))
        kept.append(row)
    if collect.report is not None:
        collect.report.rows_kept = len(kept)
    df = _interactions_frame(kept)
    if rating_stats and len(df):
        rated = df[df["kind"] == InteractionKind.RATING.value].dropna(subset=["value"])
        agg = rated.groupby("item_id")["value"].agg(["count", "mean"])
        stats = {k: RatingStats(count=int(r["count"]), mean=float(r["mean"])) for k, r in agg.iterrows()}
        items = [
            it.model_copy(update={"rating": stats[it.item_id]}) if it.item_id in stats and it.rating.count == 0 else it
            for it in items
        ]
    return Dataset(name=name, items=items, users=users, interactions=df)


# ---------------------------------------------------------------- MovieLens-100k, RecBole files


def _atomic(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a RecBole atomic file (tab-separated, header ``name:type``)."""
    lines = _text_lines(path)
    try:
        _, header = next(lines)
    except StopIteration:
        raise DataError(path, 1, None, "empty file", "write a header line of name:type columns") from None
    names = [h.split(":", 1)[0] for h in header.split("\t")]
    for line, text in lines:
        cells = text.split("\t")
        if len(cells) != len(names):
            yield line, {"__error__": f"{len(cells)} columns, header has {len(names)}"}
            continue
        yield line, dict(zip(names, cells, strict=True))


def load_movielens_recbole(
    directory: str | Path, *, lenient: bool = False, report: LoadReport | None = None
) -> Dataset:
    """Load ml-100k from RecBole's atomic files ``ml-100k.{inter,item,user}``.

    Args:
        directory: Folder holding the three files.
        lenient: Skip bad rows (recorded in ``report``) instead of raising.
        report: Where a lenient load records what it skipped; one is made if None.

    Raises:
        DataError: In strict mode, at the first malformed row.
    """
    d = Path(directory)
    report = (report or LoadReport()) if lenient else None
    collect = _Rows(report)
    items: list[Item] = []
    p = d / "ml-100k.item"
    for line, r in _atomic(p):
        try:
            if "__error__" in r:
                raise DataError(
                    p, line, None, r["__error__"], "use tab-separated item_id, movie_title, release_year, class"
                )
            title = r.get("movie_title", "").strip()
            raw_year = r.get("release_year", "").strip()
            if not raw_year.isdigit():
                # RecBole's ml-100k.item has two defects: "unkonwn" (sic) for no year, and one
                # row whose title ends "(1995)" with the year cell "V". Recover the title's year.
                title, title_year = _split_title_year(title)
                if title_year is not None:
                    raw_year = str(title_year)
                elif raw_year.lower() in _UNKNOWN_TOKENS:
                    raw_year = ""
            year = _num(raw_year, path=p, line=line, name="release_year", required=False, integer=True)
            if not title:
                raise DataError(p, line, "movie_title", "empty title", "give every item a title")
            items.append(
                Item(
                    item_id=_ident(r.get("item_id"), path=p, line=line, name="item_id"),
                    title=title,
                    year=int(year) if year is not None else None,
                    categories=tuple(g for g in r.get("class", "").split() if g != "unknown"),
                )
            )
        except DataError as e:
            collect.bad(e)
    users: list[User] = []
    p = d / "ml-100k.user"
    for line, r in _atomic(p):
        try:
            if "__error__" in r:
                raise DataError(
                    p, line, None, r["__error__"], "use tab-separated user_id, age, gender, occupation, zip_code"
                )
            age = _num(r.get("age"), path=p, line=line, name="age", integer=True, minimum=0)
            users.append(
                User(
                    user_id=_ident(r.get("user_id"), path=p, line=line, name="user_id"),
                    attributes={
                        "age": int(age or 0),
                        "gender": r.get("gender", ""),
                        "occupation": r.get("occupation", ""),
                        "zip_code": r.get("zip_code", ""),
                    },
                )
            )
        except DataError as e:
            collect.bad(e)
    rows: list[tuple[int, Path, dict[str, Any]]] = []
    p = d / "ml-100k.inter"
    for line, r in _atomic(p):
        try:
            if "__error__" in r:
                raise DataError(p, line, None, r["__error__"], "use tab-separated user_id, item_id, rating, timestamp")
            rows.append(
                (
                    line,
                    p,
                    {
                        "user_id": _ident(r.get("user_id"), path=p, line=line, name="user_id"),
                        "item_id": _ident(r.get("item_id"), path=p, line=line, name="item_id"),
                        "kind": InteractionKind.RATING.value,
                        "value": _num(r.get("rating"), path=p, line=line, name="rating", minimum=0),
                        "timestamp": _num(r.get("timestamp"), path=p, line=line, name="timestamp", minimum=0),
                        "dwell_seconds": None,
                        "amount": None,
                    },
                )
            )
        except DataError as e:
            collect.bad(e)
    if report is not None:
        report.rows_read = len(rows) + report.skipped
    return _finish("ml-100k", items, users, rows, collect, create_users=False)


# ---------------------------------------------------------------- MovieLens-100k, GroupLens files


def load_movielens_native(directory: str | Path, *, lenient: bool = False, report: LoadReport | None = None) -> Dataset:
    """Load ml-100k from GroupLens's files ``u.data``, ``u.item`` (latin-1) and ``u.user``."""
    d = Path(directory)
    report = (report or LoadReport()) if lenient else None
    collect = _Rows(report)
    items: list[Item] = []
    p = d / "u.item"
    for line, text in _text_lines(p, encoding="latin-1"):
        cells = text.split("|")
        try:
            if len(cells) != 5 + len(ML100K_GENRES):
                raise DataError(
                    p,
                    line,
                    None,
                    f"{len(cells)} fields, expected {5 + len(ML100K_GENRES)}",
                    "use id|title|release date|video date|url|19 genre flags",
                )
            flags = cells[5:]
            for g, f in zip(ML100K_GENRES, flags, strict=True):
                if f not in ("0", "1"):
                    raise DataError(p, line, g, f"genre flag {f!r}", "write genre flags as 0 or 1")
            title, year = _split_title_year(cells[1].strip())
            if year is None and cells[2][-4:].isdigit():
                year = int(cells[2][-4:])
            if not title:
                raise DataError(p, line, "title", "empty title", "give every item a title")
            cats = tuple(g for g, f in zip(ML100K_GENRES, flags, strict=True) if f == "1" and g != "unknown")
            items.append(
                Item(
                    item_id=_ident(cells[0], path=p, line=line, name="item_id"),
                    title=title,
                    year=year,
                    categories=cats,
                    attributes={"url": cells[4]} if cells[4] else {},
                )
            )
        except DataError as e:
            collect.bad(e)
    users: list[User] = []
    p = d / "u.user"
    for line, text in _text_lines(p):
        cells = text.split("|")
        try:
            if len(cells) != 5:
                raise DataError(p, line, None, f"{len(cells)} fields, expected 5", "use id|age|gender|occupation|zip")
            age = _num(cells[1], path=p, line=line, name="age", integer=True, minimum=0)
            users.append(
                User(
                    user_id=_ident(cells[0], path=p, line=line, name="user_id"),
                    attributes={"age": int(age or 0), "gender": cells[2], "occupation": cells[3], "zip_code": cells[4]},
                )
            )
        except DataError as e:
            collect.bad(e)
    rows: list[tuple[int, Path, dict[str, Any]]] = []
    p = d / "u.data"
    for line, text in _text_lines(p):
        cells = text.split("\t")
        try:
            if len(cells) != 4:
                raise DataError(
                    p, line, None, f"{len(cells)} fields, expected 4", "use user<TAB>item<TAB>rating<TAB>timestamp"
                )
            rows.append(
                (
                    line,
                    p,
                    {
                        "user_id": _ident(cells[0], path=p, line=line, name="user_id"),
                        "item_id": _ident(cells[1], path=p, line=line, name="item_id"),
                        "kind": InteractionKind.RATING.value,
                        "value": _num(cells[2], path=p, line=line, name="rating", minimum=0),
                        "timestamp": _num(cells[3], path=p, line=line, name="timestamp", minimum=0),
                        "dwell_seconds": None,
                        "amount": None,
                    },
                )
            )
        except DataError as e:
            collect.bad(e)
    if report is not None:
        report.rows_read = len(rows) + report.skipped
    return _finish("ml-100k", items, users, rows, collect, create_users=False)


# ---------------------------------------------------------------- Amazon Reviews 2023


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any] | DataError]]:
    for line, text in _text_lines(path):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            yield (
                line,
                DataError(
                    path, line, None, f"invalid JSON ({e.msg} at column {e.colno})", "write one JSON object per line"
                ),
            )
            continue
        if not isinstance(obj, dict):
            yield line, DataError(path, line, None, "not a JSON object", "write one JSON object per line")
            continue
        yield line, obj


def _price(v: Any, path: Path, line: int) -> float | None:
    if v is None or v == "" or v == "None":
        return None
    if isinstance(v, str):
        v = v.strip().lstrip("$").replace(",", "")
    return _num(v, path=path, line=line, name="price", required=False, minimum=0)


def load_amazon_reviews(
    reviews: str | Path,
    metadata: str | Path,
    *,
    events: str | Path | None = None,
    name: str = "amazon",
    lenient: bool = False,
    report: LoadReport | None = None,
) -> Dataset:
    """Load Amazon Reviews 2023 (McAuley lab) reviews JSONL plus item metadata JSONL.

    Items are keyed by ``parent_asin``; a review is a rating interaction (``verified_purchase``
    reviews are also purchases). Review timestamps are in milliseconds.

    Args:
        reviews: The reviews file (``<Category>.jsonl``).
        metadata: The item metadata file (``meta_<Category>.jsonl``).
        events: Optional behaviour log the review files cannot hold, one JSON object per line:
            ``user_id``, ``parent_asin``, ``kind`` (view, click, cart, purchase, rating), ``timestamp``
            (ms), and optionally ``value``, ``dwell_seconds``, ``amount`` (what
            :func:`catalog.synthetic.write_amazon_jsonl` writes, or a shop's own log).
        name: The dataset's name.
        lenient: Skip bad rows (recorded in ``report``) instead of raising.
        report: Where a lenient load records what it skipped.
    """
    mp, rp = Path(metadata), Path(reviews)
    report = (report or LoadReport()) if lenient else None
    collect = _Rows(report)
    items: list[Item] = []
    for line, obj in _jsonl(mp):
        try:
            if isinstance(obj, DataError):
                raise obj
            iid = _ident(obj.get("parent_asin"), path=mp, line=line, name="parent_asin")
            title = str(obj.get("title") or "").strip()
            if not title:
                raise DataError(mp, line, "title", "empty title", "give every item a title")
            desc = obj.get("description") or []
            cats = obj.get("categories") or []
            if not isinstance(cats, list):
                raise DataError(mp, line, "categories", "not a list", "write categories as a JSON list of strings")
            cnt = _num(
                obj.get("rating_number"),
                path=mp,
                line=line,
                name="rating_number",
                required=False,
                integer=True,
                minimum=0,
            )
            mean = _num(obj.get("average_rating"), path=mp, line=line, name="average_rating", required=False, minimum=0)
            details = obj.get("details") or {}
            items.append(
                Item(
                    item_id=iid,
                    title=title,
                    description=" ".join(map(str, desc)) if isinstance(desc, list) else str(desc),
                    categories=tuple(str(c) for c in cats)
                    or ((str(obj["main_category"]),) if obj.get("main_category") else ()),
                    brand=(obj.get("store") or None),
                    price=_price(obj.get("price"), mp, line),
                    rating=RatingStats(count=int(cnt or 0), mean=mean),
                    attributes={
                        "features": obj.get("features") or [],
                        "details": details if isinstance(details, dict) else {},
                    },
                )
            )
        except DataError as e:
            collect.bad(e)
    rows: list[tuple[int, Path, dict[str, Any]]] = []
    for line, obj in _jsonl(rp):
        try:
            if isinstance(obj, DataError):
                raise obj
            uid = _ident(obj.get("user_id"), path=rp, line=line, name="user_id")
            iid = _ident(obj.get("parent_asin") or obj.get("asin"), path=rp, line=line, name="parent_asin")
            rating = _num(obj.get("rating"), path=rp, line=line, name="rating", minimum=0)
            ts = _num(obj.get("timestamp"), path=rp, line=line, name="timestamp", minimum=0)
            assert ts is not None
            base = {"user_id": uid, "item_id": iid, "timestamp": ts / 1000.0, "dwell_seconds": None, "amount": None}
            rows.append((line, rp, {**base, "kind": InteractionKind.RATING.value, "value": rating}))
            if obj.get("verified_purchase") is True:
                rows.append((line, rp, {**base, "kind": InteractionKind.PURCHASE.value, "value": None}))
        except DataError as e:
            collect.bad(e)
    if events is not None:
        rows += _amazon_events(Path(events), collect)
    if report is not None:
        report.rows_read = len({(ln, p) for ln, p, _ in rows}) + report.skipped
    return _finish(name, items, [], rows, collect, create_users=True, rating_stats=False)


def _amazon_events(ep: Path, collect: _Rows) -> list[tuple[int, Path, dict[str, Any]]]:
    rows: list[tuple[int, Path, dict[str, Any]]] = []
    for line, obj in _jsonl(ep):
        try:
            if isinstance(obj, DataError):
                raise obj
            kind = str(obj.get("kind") or "").strip().lower()
            if kind not in _KINDS:
                raise DataError(ep, line, "kind", f"unknown kind {kind!r}", f"use one of {sorted(_KINDS)}")
            ts = _num(obj.get("timestamp"), path=ep, line=line, name="timestamp", minimum=0)
            assert ts is not None
            row = {
                "user_id": _ident(obj.get("user_id"), path=ep, line=line, name="user_id"),
                "item_id": _ident(obj.get("parent_asin") or obj.get("asin"), path=ep, line=line, name="parent_asin"),
                "kind": kind,
                "value": _num(obj.get("value"), path=ep, line=line, name="value", required=False),
                "timestamp": ts / 1000.0,
                "dwell_seconds": _num(
                    obj.get("dwell_seconds"), path=ep, line=line, name="dwell_seconds", required=False, minimum=0
                ),
                "amount": _num(obj.get("amount"), path=ep, line=line, name="amount", required=False, minimum=0),
            }
            if kind == InteractionKind.RATING.value and row["value"] is None:
                raise DataError(ep, line, "value", "a rating without a value", "give rating events a value")
            rows.append((line, ep, row))
        except DataError as e:
            collect.bad(e)
    return rows


# ---------------------------------------------------------------- generic tables


class TableMapping(BaseModel):
    """Column mapping for generic CSV/Parquet interaction (and optional item) tables.

    Each field names the source column; None means the source has no such column.
    """

    user_id: str = Field("user_id", description="Column with the user id.")
    item_id: str = Field("item_id", description="Column with the item id.")
    kind: str | None = Field(
        None, description="Column with the behaviour kind; None means all rows are `default_kind`."
    )
    default_kind: InteractionKind = Field(InteractionKind.RATING, description="Kind used when `kind` is None.")
    value: str | None = Field("rating", description="Column with the rating or strength.")
    timestamp: str | None = Field("timestamp", description="Column with unix seconds.")
    dwell_seconds: str | None = Field(None, description="Column with dwell time in seconds.")
    amount: str | None = Field(None, description="Column with the amount spent.")
    item_title: str = Field("title", description="Items table: title column.")
    item_categories: str | None = Field(
        "categories", description="Items table: categories column, split on `category_separator`."
    )
    category_separator: str = Field("|", description="Separator inside the categories cell.")
    item_year: str | None = Field("year", description="Items table: year column.")
    item_price: str | None = Field("price", description="Items table: price column.")
    item_brand: str | None = Field("brand", description="Items table: brand column.")
    item_description: str | None = Field("description", description="Items table: description column.")


def _read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """A table as strings, plus the offset from row index to the reported line/row number."""
    if not path.is_file():
        raise DataError(path, None, None, "file not found", "check the path")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path), 1  # Parquet: 1-based row numbers
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False), 2  # CSV: header is line 1
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise DataError(
            path, None, None, f"unreadable CSV ({e})", "save the file as UTF-8 CSV with one header row"
        ) from None


def _require_columns(path: Path, df: pd.DataFrame, cols: Iterable[str | None]) -> None:
    for c in cols:
        if c is not None and c not in df.columns:
            raise DataError(
                path,
                None,
                c,
                f"column missing (have {list(df.columns)})",
                "rename the column or set the mapping in config",
            )


def load_table(
    interactions: str | Path,
    items: str | Path | None = None,
    *,
    mapping: TableMapping | None = None,
    name: str = "table",
    lenient: bool = False,
    report: LoadReport | None = None,
) -> Dataset:
    """Load interactions (and optionally items) from CSV or Parquet with a column mapping.

    Items missing from the items table (or all items, when there is none) are created with the
    id as title.
    """
    m = mapping or TableMapping()
    ip = Path(interactions)
    report = (report or LoadReport()) if lenient else None
    collect = _Rows(report)
    df, off = _read_table(ip)
    _require_columns(ip, df, [m.user_id, m.item_id, m.kind, m.value, m.timestamp, m.dwell_seconds, m.amount])
    catalog: dict[str, Item] = {}
    if items is not None:
        tp = Path(items)
        tdf, toff = _read_table(tp)
        _require_columns(tp, tdf, [m.item_id, m.item_title])
        opt = {
            c
            for c in (m.item_categories, m.item_year, m.item_price, m.item_brand, m.item_description)
            if c in tdf.columns
        }
        for i, r in enumerate(tdf.to_dict("records")):
            line = i + toff
            try:
                iid = _ident(r[m.item_id], path=tp, line=line, name=m.item_id)
                year = (
                    _num(r.get(m.item_year), path=tp, line=line, name=str(m.item_year), required=False, integer=True)
                    if m.item_year in opt
                    else None
                )
                cats = str(r.get(m.item_categories) or "") if m.item_categories in opt else ""
                title = str(r[m.item_title] or "").strip()
                if not title:
                    raise DataError(tp, line, m.item_title, "empty title", "give every item a title")
                catalog[iid] = Item(
                    item_id=iid,
                    title=title,
                    categories=tuple(c.strip() for c in cats.split(m.category_separator) if c.strip()),
                    year=int(year) if year is not None else None,
                    price=_price(r.get(m.item_price), tp, line) if m.item_price in opt else None,
                    brand=(str(r.get(m.item_brand)).strip() or None)
                    if m.item_brand in opt and r.get(m.item_brand)
                    else None,
                    description=str(r.get(m.item_description) or "") if m.item_description in opt else "",
                )
            except DataError as e:
                collect.bad(e)
    rows: list[tuple[int, Path, dict[str, Any]]] = []
    records = df.to_dict("records")
    for i, r in enumerate(records):
        line = i + off
        try:
            kind = str(r[m.kind]).strip().lower() if m.kind else m.default_kind.value
            if kind not in _KINDS:
                raise DataError(ip, line, m.kind, f"unknown kind {kind!r}", f"use one of {sorted(_KINDS)}")

            def opt_num(col: str | None, r: dict[Any, Any] = r, line: int = line, **kw: Any) -> float | None:
                return _num(r.get(col), path=ip, line=line, name=col, required=False, **kw) if col else None

            ts = _num(r.get(m.timestamp), path=ip, line=line, name=m.timestamp, minimum=0) if m.timestamp else 0.0
            rows.append(
                (
                    line,
                    ip,
                    {
                        "user_id": _ident(r[m.user_id], path=ip, line=line, name=m.user_id),
                        "item_id": _ident(r[m.item_id], path=ip, line=line, name=m.item_id),
                        "kind": kind,
                        "value": opt_num(m.value),
                        "timestamp": ts,
                        "dwell_seconds": opt_num(m.dwell_seconds, minimum=0),
                        "amount": opt_num(m.amount, minimum=0),
                    },
                )
            )
        except DataError as e:
            collect.bad(e)
    if items is None:
        for _, _, row in rows:
            catalog.setdefault(row["item_id"], Item(item_id=row["item_id"], title=row["item_id"]))
    if report is not None:
        report.rows_read = len(records)
    return _finish(name, list(catalog.values()), [], rows, collect, create_users=True)


Loader = Callable[..., Dataset]
