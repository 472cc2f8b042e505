"""Reading interaction CSVs: header or not, bad rows counted, never a crash."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pytest

from recommender import read_interactions_csv, read_item_features_csv


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    """A CSV file with the given text."""
    path = tmp_path / name
    path.write_text(text)
    return path


def test_positional_columns_without_a_header(tmp_path: Path) -> None:
    data, report = read_interactions_csv(
        write(tmp_path, "u1,i1\nu1,i2,3\nu2,i1,2,2011-09-01T10:00:00\nu3,i3,,1300000000\n")
    )
    assert report.header is None
    assert report.loaded == 4 and report.bad_rows == 0
    assert data.users.tolist() == ["u1", "u1", "u2", "u3"]
    assert data.kinds.tolist() == ["purchase"] * 4
    assert math.isnan(data.quantities[0]) and data.quantities[2] == 2.0
    assert data.timestamps[3] == 1_300_000_000.0
    assert math.isnan(data.timestamps[0])


def test_a_header_names_columns_in_any_order(tmp_path: Path) -> None:
    text = "Timestamp,Item,User,Kind,Order\n2011-01-01,i1,u1,view,\n2011-01-02,i2,u1,,o7\n"
    data, report = read_interactions_csv(write(tmp_path, text), default_kind="purchase")
    assert report.header == ["timestamp", "item", "user", "kind", "basket"]
    assert data.items.tolist() == ["i1", "i2"]
    assert data.kinds.tolist() == ["view", "purchase"]
    assert data.baskets.tolist() == ["", "o7"]


def test_bad_rows_are_counted_by_reason(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "user,item,weight,timestamp",
            "u1,i1,1,2011-01-01",
            "u1,i2",  # wrong number of fields under a header
            ",i3,1,2011-01-01",
            "u2,i4,-3,2011-01-01",
            "u2,i5,lots,2011-01-01",
            "u2,i6,1,last tuesday",
            "u3,i7,2,1300000000",
            "",
        ]
    )
    data, report = read_interactions_csv(write(tmp_path, text))
    assert report.rows == 7
    assert report.loaded == len(data) == 2
    assert report.bad == {
        "wrong number of fields": 1,
        "missing user or item": 1,
        "weight is not a positive number": 2,
        "unreadable timestamp": 1,
    }
    assert len(report.examples) == 5
    assert "5 bad" in report.summary()


def test_gzip_files_are_read(tmp_path: Path) -> None:
    path = tmp_path / "data.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("u1,i1\nu2,i2\n")
    data, _ = read_interactions_csv(path)
    assert len(data) == 2


def test_an_unusable_header_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unusable header"):
        read_interactions_csv(write(tmp_path, "user,item,colour\nu,i,red\n"))


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_interactions_csv(tmp_path / "nope.csv")


@pytest.mark.parametrize(
    "stamp", ["1e400", "inf", "-inf", "99999999999999", "1300000000000", "-1e15", "2200-01-01"]
)
def test_a_timestamp_outside_1970_to_2199_is_a_bad_row(tmp_path: Path, stamp: str) -> None:
    text = f"u1,i1,1,2011-01-01\nu2,i2,2,{stamp}\nu3,i3,1,1300000000\n"
    data, report = read_interactions_csv(write(tmp_path, text))
    assert report.bad == {"timestamp outside 1970-2199": 1}
    assert report.examples == [f"line 2: timestamp outside 1970-2199: u2,i2,2,{stamp}"]
    assert data.users.tolist() == ["u1", "u3"]
    assert data.time_span == (1_293_840_000.0, 1_300_000_000.0)


def test_timestamps_at_the_ends_of_the_range_are_kept(tmp_path: Path) -> None:
    data, report = read_interactions_csv(write(tmp_path, "u1,i1,1,0\nu2,i2,1,2199-12-31T23:59\n"))
    assert report.bad_rows == 0 and len(data) == 2


def test_a_field_over_the_csv_size_limit_is_a_bad_row(tmp_path: Path) -> None:
    text = "user,item\nu1,i1\nu2," + "x" * 200_000 + "\nu3,i3\n"
    data, report = read_interactions_csv(write(tmp_path, text))
    assert report.rows == 3 and report.loaded == 2
    assert report.bad == {"unreadable CSV row: field larger than field limit (131072)": 1}
    assert report.examples == ["line 3: unreadable CSV row: field larger than field limit (131072)"]
    assert data.users.tolist() == ["u1", "u3"]


def test_a_row_that_is_not_utf8_is_a_bad_row_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    # A long first part puts the bad byte past the decoder's first chunk, as in a real file.
    good = "".join(f"u{n},i{n % 7},1,2011-01-01\n" for n in range(2000)).encode()
    path.write_bytes(good + "Zoë,i1,1,2011-01-02\n".encode("latin-1") + b"u9,i9\n")
    data, report = read_interactions_csv(path)
    assert report.rows == 2002 and report.loaded == 2001
    assert report.bad == {"not UTF-8 text": 1}
    assert report.examples == ["line 2001: not UTF-8 text: Zo\ufffd,i1,1,2011-01-02"]
    assert data.users.tolist()[-1] == "u9"


def test_utf8_text_is_read_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "utf8.csv"
    path.write_bytes("Zoë,café\n".encode())
    data, report = read_interactions_csv(path)
    assert report.bad_rows == 0
    assert (data.users.tolist(), data.items.tolist()) == (["Zoë"], ["café"])


def test_a_gzip_file_that_cannot_be_decompressed_is_a_value_error(tmp_path: Path) -> None:
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(b"u1,i1\n" * 1000)[:30])
    with pytest.raises(ValueError, match=r"cut\.csv\.gz: cannot decompress line \d+ onwards"):
        read_interactions_csv(cut)
    plain = write(tmp_path, "u1,i1\n", "plain.csv.gz")
    with pytest.raises(ValueError, match=r"plain\.csv\.gz: cannot decompress line 1 onwards"):
        read_interactions_csv(plain)


@pytest.mark.parametrize("name", ["bom.csv", "bom.csv.gz"])
def test_a_byte_order_mark_is_not_part_of_the_first_user(tmp_path: Path, name: str) -> None:
    # Excel writes "UTF-8 CSV" with a BOM; without a header it sits in front of the first
    # user key, which would otherwise make "u1" on line 1 another user than "u1" on line 2.
    text = "\ufeffu1,i1,1,2011-01-01\r\nu1,i2,1,2011-01-02\r\n"
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_bytes(text.encode())
    data, report = read_interactions_csv(path)
    assert report.header is None and report.bad_rows == 0
    assert data.users.tolist() == ["u1", "u1"]
    assert data.items.tolist() == ["i1", "i2"]


def test_item_features_with_a_byte_order_mark_keep_their_first_text_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes("\ufeffitem,description\r\ni1,RED LANTERN\r\n".encode())
    assert read_item_features_csv(path) == {"i1": "RED LANTERN"}
