"""Readers and writers of the PG2/PATN annotation and pairs CSV files.

Annotation CSV: header `name:keypoints_y:keypoints_x`, `:` separated, one row
per image `<name>: [18 ints]: [18 ints]` (rows, then columns; -1 = missing).
Pairs CSV: header `from,to`, one `<name>,<name>` row per ordered pair.

Reference: SPEC.md section 1.2 ("CSV annotation files").
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Mapping

import numpy as np

from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data.errors import DataError

ANNOTATION_HEADER = ("name", "keypoints_y", "keypoints_x")
PAIRS_HEADER = ("from", "to")
_INT_RE = re.compile(r"-?[0-9]+")


def check_image_name(name: str, path: str | None = None, line: int | None = None) -> str:
    """Rejects names that are empty or could escape the image folder."""
    if not name:
        raise DataError("empty image name", path, line)
    if "/" in name or "\\" in name or os.sep in name or ".." in name:
        raise DataError(f"image name {name!r} contains a path separator or '..'; "
                        "names must be plain file names inside the image folder",
                        path, line)
    return name


def read_annotation_csv(path: str) -> dict[str, np.ndarray]:
    """Reads an annotation CSV into {name: RCV (18, 3) float32}, in file order."""
    return {name: rcv for name, (rcv, _) in read_annotation_csv_with_lines(path).items()}


def read_annotation_csv_with_lines(path: str) -> dict[str, tuple[np.ndarray, int]]:
    """Like `read_annotation_csv`, also giving each row's 1-based line number."""
    lines = _read_lines(path)
    out: dict[str, tuple[np.ndarray, int]] = {}
    for lineno, parts in _rows(lines, path, ":", ANNOTATION_HEADER):
        name = check_image_name(parts[0].strip(), path, lineno)
        ys = _parse_int_list(parts[1], "keypoints_y", path, lineno)
        xs = _parse_int_list(parts[2], "keypoints_x", path, lineno)
        if name in out:
            raise DataError(f"duplicate image name {name!r} (first on line {out[name][1]})",
                            path, lineno)
        out[name] = (kp_lib.from_pg2_lists(ys, xs), lineno)
    return out


def read_pairs_csv(path: str) -> list[tuple[str, str]]:
    """Reads a pairs CSV into a list of (from, to) names, in file order."""
    return [(a, b) for a, b, _ in read_pairs_csv_with_lines(path)]


def read_pairs_csv_with_lines(path: str) -> list[tuple[str, str, int]]:
    """Like `read_pairs_csv`, also giving each row's 1-based line number."""
    lines = _read_lines(path)
    out = []
    for lineno, parts in _rows(lines, path, ",", PAIRS_HEADER):
        a = check_image_name(parts[0].strip(), path, lineno)
        b = check_image_name(parts[1].strip(), path, lineno)
        out.append((a, b, lineno))
    return out


def write_annotation_csv(path: str, rows: Mapping[str, np.ndarray]) -> None:
    """Writes {name: RCV (18, 3)} as an annotation CSV (-1 for invisible joints).

    Coordinates are truncated to int, as in the PG2/PATN files.
    """
    out = [":".join(ANNOTATION_HEADER)]
    for name, rcv in rows.items():
        check_image_name(name, path)
        ys, xs = kp_lib.to_pg2_lists(np.asarray(rcv, np.float32))
        out.append(f"{name}: {_format_list(ys)}: {_format_list(xs)}")
    _write_text(path, "\n".join(out) + "\n")


def write_pairs_csv(path: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Writes (from, to) name pairs as a pairs CSV."""
    out = [",".join(PAIRS_HEADER)]
    for a, b in pairs:
        check_image_name(a, path)
        check_image_name(b, path)
        out.append(f"{a},{b}")
    _write_text(path, "\n".join(out) + "\n")


def _format_list(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def _write_text(path: str, text: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except UnicodeDecodeError as err:
        raise DataError(f"not a UTF-8 text file ({err.reason})", path) from None



def _rows(lines: list[str], path: str, separator: str, header_fields: tuple):
    """(1-based line number, fields) of each data row, after checking the header and the
    field count of every row; blank lines are skipped."""
    spec = separator.join(header_fields)
    header_line, header = _first_content_line(lines, path)
    if tuple(f.strip() for f in header.split(separator)) != header_fields:
        raise DataError(f"expected the header '{spec}', got {header!r}", path, header_line)
    for lineno, text in enumerate(lines, start=1):
        if lineno <= header_line or not text.strip():
            continue
        parts = text.split(separator)
        if len(parts) != len(header_fields):
            raise DataError(f"expected {len(header_fields)} '{separator}'-separated fields "
                            f"({spec}), got {len(parts)} in {text.strip()!r}", path, lineno)
        yield lineno, parts

def _first_content_line(lines: list[str], path: str) -> tuple[int, str]:
    for lineno, text in enumerate(lines, start=1):
        if text.strip():
            return lineno, text.strip().lstrip("\ufeff")
    raise DataError("empty file: missing the header line", path, 1)


def _parse_int_list(text: str, field: str, path: str, line: int) -> list[int]:
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        raise DataError(f"{field}: expected a list like [12, -1, ...] of "
                        f"{kp_lib.NUM_JOINTS} ints, got {body!r}", path, line)
    items = [s.strip() for s in body[1:-1].split(",")]
    if items == [""]:
        items = []
    if len(items) != kp_lib.NUM_JOINTS:
        raise DataError(f"{field}: expected exactly {kp_lib.NUM_JOINTS} values, "
                        f"got {len(items)}", path, line)
    values = []
    for i, item in enumerate(items):
        if not _INT_RE.fullmatch(item):
            raise DataError(f"{field}[{i}]: expected an integer, got {item!r}", path, line)
        value = int(item)
        if value < kp_lib.MISSING_VALUE:
            raise DataError(f"{field}[{i}]: expected a pixel coordinate >= 0 or -1 "
                            f"(missing), got {value}", path, line)
        values.append(value)
    return values
