import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from dpig_tf.data import keypoints_csv as C
from dpig_tf.data.errors import DataError

ROW = ("0002_c1s1_000451_03.jpg: [12, -1, 30, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]"
       ": [1, -1, 3, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]")
HEADER = "name:keypoints_y:keypoints_x"


def _write(tmp_path, text, name="ann.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_reads_patn_row(tmp_path):
    path = _write(tmp_path, HEADER + "\n" + ROW + "\n")
    table = C.read_annotation_csv(path)
    rcv = table["0002_c1s1_000451_03.jpg"]
    np.testing.assert_array_equal(rcv[0], [12, 1, 1])
    np.testing.assert_array_equal(rcv[1], [0, 0, 0])
    np.testing.assert_array_equal(rcv[2], [30, 3, 1])


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,20}\.jpg", fullmatch=True)
coords = st.lists(st.integers(-1, 300), min_size=18, max_size=18)


@settings(max_examples=40, deadline=None)
@given(rows=st.dictionaries(names, st.tuples(coords, coords), min_size=0, max_size=5))
def test_annotation_round_trip(tmp_path_factory, rows):
    from dpig_tf.data import keypoints as K

    path = str(tmp_path_factory.mktemp("rt") / "a.csv")
    rcvs = {n: K.from_pg2_lists(ys, xs) for n, (ys, xs) in rows.items()}
    C.write_annotation_csv(path, rcvs)
    back = C.read_annotation_csv(path)
    assert list(back) == list(rcvs)
    for n in rcvs:
        np.testing.assert_array_equal(back[n], rcvs[n])
        ys, xs = rows[n]
        vis = [y != -1 and x != -1 for y, x in zip(ys, xs)]
        assert K.to_pg2_lists(back[n]) == ([y if v else -1 for y, v in zip(ys, vis)],
                                           [x if v else -1 for x, v in zip(xs, vis)])


@settings(max_examples=40, deadline=None)
@given(pairs=st.lists(st.tuples(names, names), max_size=6))
def test_pairs_round_trip(tmp_path_factory, pairs):
    path = str(tmp_path_factory.mktemp("pairs") / "p.csv")
    C.write_pairs_csv(path, pairs)
    assert C.read_pairs_csv(path) == pairs


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 40).filter(lambda n: n != 18), line=st.integers(0, 3))
def test_wrong_value_count_names_file_and_line(tmp_path_factory, n, line):
    good = ROW
    bad = "x.jpg: [" + ", ".join(["1"] * n) + "]: [" + ", ".join(["1"] * 18) + "]"
    rows = [good.replace("0002", f"{i:04d}") for i in range(line)] + [bad]
    path = str(tmp_path_factory.mktemp("bad") / "ann.csv")
    with open(path, "w") as f:
        f.write(HEADER + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{path}:{line + 2}:") + ".*keypoints_y.*18"):
        C.read_annotation_csv(path)


@pytest.mark.parametrize("text, line, what", [
    (ROW.replace(":", ",", 1), 2, "3 ':'-separated"),  # wrong separator
    (ROW.replace("[12, -1, 30", "[12, -1"), 2, "exactly 18 values, got 17"),
    (ROW.replace("[12, -1, 30", "[12, -1, 30, 31"), 2, "exactly 18 values, got 19"),
    (ROW.replace("[12, -1, 30", "[12, -1, 3.5"), 2,
     r"keypoints_y\[2\]: expected an integer, got '3.5'"),
    (ROW.replace("[12, -1, 30", "[12, -1, abc"), 2, "expected an integer"),
    (ROW.replace(": [1, -1, 3,", ": [1, -1, -7,"), 2, r"keypoints_x\[2\].*-1 \(missing\)"),
    (ROW.replace("0002_c1s1", "../0002_c1s1"), 2, "path separator or '..'"),
    (ROW.replace("0002_c1s1", "sub/0002_c1s1"), 2, "path separator or '..'"),
    (ROW + "\n" + ROW, 3, r"duplicate image name .* \(first on line 2\)"),
])
def test_malformed_annotation_rows(tmp_path, text, line, what):
    path = _write(tmp_path, HEADER + "\n" + text + "\n")
    with pytest.raises(DataError, match=re.escape(f"{path}:{line}: ") + ".*" + what):
        C.read_annotation_csv(path)


def test_missing_header_and_empty_and_missing_file(tmp_path):
    path = _write(tmp_path, ROW + "\n")
    with pytest.raises(DataError, match=re.escape(f"{path}:1: ") + "expected the header"):
        C.read_annotation_csv(path)
    path = _write(tmp_path, "", "empty.csv")
    with pytest.raises(DataError, match=re.escape(f"{path}:1: ") + "empty file"):
        C.read_annotation_csv(path)
    with pytest.raises(DataError, match="nope.csv: file not found"):
        C.read_annotation_csv(str(tmp_path / "nope.csv"))


def test_malformed_pairs(tmp_path):
    path = _write(tmp_path, "a.jpg,b.jpg\n", "p.csv")
    with pytest.raises(DataError, match=re.escape(f"{path}:1: ") + "expected the header 'from,to'"):
        C.read_pairs_csv(path)
    path = _write(tmp_path, "from,to\na.jpg,b.jpg\na.jpg:b.jpg\n", "p2.csv")
    with pytest.raises(DataError, match=re.escape(f"{path}:3: ") + "expected 2 ','-separated"):
        C.read_pairs_csv(path)
    path = _write(tmp_path, "from,to\na.jpg,..\\b.jpg\n", "p3.csv")
    with pytest.raises(DataError, match=re.escape(f"{path}:2: ") + ".*path separator"):
        C.read_pairs_csv(path)


def test_writer_writes_minus_one_for_invisible(tmp_path):
    rcv = np.zeros((18, 3), np.float32)
    rcv[0] = (12.7, 3.2, 1)
    path = str(tmp_path / "w.csv")
    C.write_annotation_csv(path, {"a.jpg": rcv})
    lines = open(path).read().splitlines()
    assert lines[0] == HEADER
    assert lines[1] == "a.jpg: [12" + ", -1" * 17 + "]: [3" + ", -1" * 17 + "]"
    with pytest.raises(DataError, match="path separator"):
        C.write_annotation_csv(path, {"../a.jpg": rcv})
