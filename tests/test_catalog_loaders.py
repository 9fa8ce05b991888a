"""Loaders: real ml-100k in both formats, Amazon Reviews 2023 and generic tables, precise errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog import (
    DataError,
    InteractionKind,
    LoadReport,
    TableMapping,
    load_amazon_reviews,
    load_movielens_native,
    load_movielens_recbole,
    load_table,
)
from catalog.loaders import ML100K_GENRES


def test_ml100k_recbole_counts_and_known_rows(ml100k) -> None:  # type: ignore[no-untyped-def]
    assert (ml100k.n_users, ml100k.n_items, len(ml100k.interactions)) == (943, 1682, 100000)
    star_wars = ml100k.item("50")
    assert star_wars.title == "Star Wars" and star_wars.year == 1977
    assert set(star_wars.categories) == {"Action", "Adventure", "Romance", "Sci-Fi", "War"}
    assert star_wars.rating.count == 583
    # the RecBole file's "V" year cell is recovered from the title's "(1995)"
    land = ml100k.item("1412")
    assert land.year == 1995 and not land.title.endswith("(1995)")
    assert ml100k.item("267").year is None  # "unkonwn" in the file
    u196 = ml100k.users[ml100k.user_index["196"]]
    assert u196.attributes == {"age": 49, "gender": "M", "occupation": "writer", "zip_code": "55105"}
    assert set(ml100k.interactions["kind"]) == {"rating"}
    assert ml100k.interactions["value"].between(1, 5).all()


def _write_native(src: Path, dst: Path) -> None:
    """Write GroupLens's native u.* files from the RecBole atomic files (same data)."""
    ds = load_movielens_recbole(src)
    dst.mkdir(parents=True, exist_ok=True)
    with (dst / "u.item").open("w", encoding="latin-1") as f:
        for it in ds.items:
            title = f"{it.title} ({it.year})" if it.year else it.title
            flags = [
                "1" if g in it.categories or (g == "unknown" and not it.categories) else "0" for g in ML100K_GENRES
            ]
            f.write("|".join([it.item_id, title, "01-Jan-1995", "", "http://example.invalid", *flags]) + "\n")
    with (dst / "u.user").open("w") as f:
        for u in ds.users:
            a = u.attributes
            f.write(f"{u.user_id}|{a['age']}|{a['gender']}|{a['occupation']}|{a['zip_code']}\n")
    shutil.copy(src / "ml-100k.inter", dst / "u.data.tmp")
    lines = (dst / "u.data.tmp").read_text().splitlines()[1:]
    (dst / "u.data").write_text("\n".join(lines) + "\n")


def test_ml100k_native_matches_recbole(ml100k_dir: Path, ml100k, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _write_native(ml100k_dir, tmp_path)
    native = load_movielens_native(tmp_path)
    assert (native.n_users, native.n_items, len(native.interactions)) == (943, 1682, 100000)
    for iid in ("1", "50", "1412"):
        a, b = native.item(iid), ml100k.item(iid)
        assert (a.title, a.year, a.categories) == (b.title, b.year, b.categories)


def test_native_bad_genre_flag_names_line_and_field(ml100k_dir: Path, tmp_path: Path) -> None:
    _write_native(ml100k_dir, tmp_path)
    lines = (tmp_path / "u.item").read_text(encoding="latin-1").splitlines()
    cells = lines[9].split("|")
    cells[5 + ML100K_GENRES.index("Drama")] = "x"
    lines[9] = "|".join(cells)
    (tmp_path / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(DataError) as e:
        load_movielens_native(tmp_path)
    assert (e.value.line, e.value.field) == (10, "Drama")
    assert "u.item" in str(e.value) and "Fix:" in str(e.value)


def test_amazon_reviews_fixture() -> None:
    ds = load_amazon_reviews(FIXTURES / "amazon_reviews.jsonl", FIXTURES / "amazon_meta.jsonl")
    assert ds.n_items == 3 and ds.n_users == 3
    skillet = ds.item("P001")
    assert skillet.price == 24.99 and skillet.brand == "IronCo" and "Cookware" in skillet.categories
    assert skillet.rating.count == 1520 and skillet.description.startswith("A heavy skillet")
    assert ds.item("P002").price == 39.5  # "$39.50" parsed
    assert ds.item("P003").brand is None and ds.item("P003").price is None
    kinds = ds.interactions["kind"].value_counts().to_dict()
    assert kinds == {"rating": 4, "purchase": 3}  # verified purchases are purchases too
    assert ds.interactions["timestamp"].min() == pytest.approx(1588687728.923)


def test_amazon_bad_json_line(tmp_path: Path) -> None:
    reviews = (FIXTURES / "amazon_reviews.jsonl").read_text().splitlines()
    reviews.insert(2, '{"rating": 5.0, "user_id": "X"')  # truncated object on line 3
    p = tmp_path / "r.jsonl"
    p.write_text("\n".join(reviews) + "\n")
    with pytest.raises(DataError) as e:
        load_amazon_reviews(p, FIXTURES / "amazon_meta.jsonl")
    assert e.value.line == 3 and "invalid JSON" in e.value.problem
    report = LoadReport()
    ds = load_amazon_reviews(p, FIXTURES / "amazon_meta.jsonl", lenient=True, report=report)
    assert report.skipped == 1 and report.errors[0].line == 3
    assert (ds.interactions["kind"] == "rating").sum() == 4


MAPPING = TableMapping(
    user_id="uid",
    item_id="sku",
    kind="event",
    value="strength",
    timestamp="ts",
    dwell_seconds="dwell",
    amount="spent",
    item_title="name",
    item_categories="genres",
    item_year="released",
    item_price="cost",
    item_brand="maker",
    item_description="blurb",
)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_with_mapping(tmp_path: Path, fmt: str) -> None:
    inter, items = FIXTURES / "table_interactions.csv", FIXTURES / "table_items.csv"
    if fmt == "parquet":
        import pandas as pd

        pd.read_csv(inter, dtype=str, keep_default_na=False).to_parquet(tmp_path / "i.parquet")
        pd.read_csv(items, dtype=str, keep_default_na=False).to_parquet(tmp_path / "t.parquet")
        inter, items = tmp_path / "i.parquet", tmp_path / "t.parquet"
    ds = load_table(inter, items, mapping=MAPPING)
    assert ds.n_items == 3 and ds.n_users == 2 and len(ds.interactions) == 5
    shoes = ds.item("s1")
    assert shoes.categories == ("Shoes", "Running") and shoes.price == 89.0 and shoes.year == 2021
    first = next(ds.iter_interactions())
    assert first.kind == InteractionKind.VIEW and first.dwell_seconds == 12.5
    purchase = next(i for i in ds.iter_interactions() if i.kind == InteractionKind.PURCHASE)
    assert purchase.amount == 19.99


def test_table_missing_column_says_which(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        load_table(FIXTURES / "table_interactions.csv", mapping=MAPPING.model_copy(update={"timestamp": "time"}))
    assert e.value.field == "time" and "column missing" in e.value.problem


# --- property: every malformed row gets a precise error -------------------------------------

_HEADER = "uid,sku,event,strength,ts,dwell,spent"
_GOOD = "u1,s1,view,,1700000000,12.5,"
_BREAKERS = {
    "uid": ("", "empty id"),
    "event": ("teleport", "unknown kind"),
    "strength": ("abc", "not a number"),
    "ts": ("-5", "below"),
    "dwell": ("nan", "not finite"),
    "spent": ("-1", "below"),
}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(
    n_rows=st.integers(1, 12),
    bad_row=st.integers(0, 11),
    column=st.sampled_from(sorted(_BREAKERS)),
)
def test_malformed_row_precise_error(
    tmp_path_factory: pytest.TempPathFactory, n_rows: int, bad_row: int, column: str
) -> None:
    bad_row %= n_rows
    cols = _HEADER.split(",")
    rows = []
    for i in range(n_rows):
        cells = _GOOD.split(",")
        if i == bad_row:
            cells[cols.index(column)] = _BREAKERS[column][0]
        rows.append(",".join(cells))
    p = tmp_path_factory.mktemp("t") / "i.csv"
    p.write_text("\n".join([_HEADER, *rows]) + "\n")
    with pytest.raises(DataError) as e:
        load_table(p, mapping=MAPPING)
    err = e.value
    assert err.line == bad_row + 2  # header is line 1
    assert err.field == column
    assert _BREAKERS[column][1] in err.problem
    assert err.path == str(p) and err.fix
    report = LoadReport()
    ds = load_table(p, mapping=MAPPING, lenient=True, report=report)
    assert report.skipped == 1 and report.errors[0].line == bad_row + 2
    assert len(ds.interactions) == n_rows - 1 and report.rows_kept == n_rows - 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_arbitrary_jsonl_lines_never_crash(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    """Whatever the reviews file holds, the loader either loads it or raises DataError."""
    p = tmp_path_factory.mktemp("a") / "r.jsonl"
    p.write_text("\n".join(json.dumps(x) if i % 2 else x for i, x in enumerate(lines)) + "\n")
    try:
        load_amazon_reviews(p, FIXTURES / "amazon_meta.jsonl")
    except DataError as e:
        assert e.line is not None and e.line >= 1


def test_dataset_checks_interaction_columns_and_names_the_row() -> None:
    import pandas as pd

    from catalog.types import Dataset, Item, User

    items, users = [Item(item_id="a", title="A")], [User(user_id="u")]
    good = {"user_id": "u", "item_id": "a", "kind": "view", "value": None, "timestamp": 1.0, "dwell_seconds": 2.0}
    rows = [good, {**good, "timestamp": 3.0}, {**good, "dwell_seconds": -4.0}]
    with pytest.raises(ValueError, match=r"1 interactions have a bad 'dwell_seconds' \(first: row 2.*>= 0"):
        Dataset("t", items, users, pd.DataFrame(rows).assign(amount=None))
    ds = Dataset("t", items, users, pd.DataFrame(rows[:2]).assign(amount=None))
    records = list(ds.iter_interactions())
    assert [r.timestamp for r in records] == [1.0, 3.0] and records[0].kind == InteractionKind.VIEW
    assert records[1].value is None and records[1].dwell_seconds == 2.0
