"""Strict image-folder reading and pairing for the metrics.

Files are paired by SORTED file stem (name without extension): `G/00001.png`
pairs with `x_target/00001.png` (or `.jpg`). The original `score.py` gathered
each folder with its own unsorted `glob` and paired by list position (SPEC 8.2
#5) and crashed with "list index out of range" on a missing folder (#10); here
a missing, empty or mismatched folder is a `ImageFolderError` listing the
names.

Images must be 8-bit RGB files (PIL mode "RGB"); masks 8-bit single-channel
(mode "L"). Grayscale, RGBA, palette or 16-bit files are rejected with an
error naming the file rather than silently converted: the protocols are
defined on uint8 RGB and a conversion (alpha compositing, palette expansion)
would change the numbers.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError

from dpig_tf.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
MAX_NAMES_IN_ERROR = 10


class ImageFolderError(UserError):
    """A metric input folder or file that cannot be scored."""


def list_images(folder: str, role: str = "images") -> dict[str, str]:
    """Sorted {stem: path} of the image files in `folder` (not recursive)."""
    if not folder:
        raise ImageFolderError(f"no {role} folder given")
    if not os.path.isdir(folder):
        raise ImageFolderError(f"{role} folder {folder!r} does not exist (generate the "
                               "images first, e.g. with --mode=evaluate or --mode=transfer)")
    files = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = os.path.splitext(name)
        if ext.lower() not in IMAGE_EXTENSIONS:
            continue
        if stem in files:
            raise ImageFolderError(f"{role} folder {folder!r} holds two files with the stem "
                                   f"{stem!r}: {os.path.basename(files[stem])!r} and {name!r}")
        files[stem] = os.path.join(folder, name)
    if not files:
        raise ImageFolderError(f"{role} folder {folder!r} holds no image files "
                               f"({', '.join(IMAGE_EXTENSIONS)})")
    return files


def _names(names) -> str:
    names = sorted(names)
    shown = ", ".join(names[:MAX_NAMES_IN_ERROR])
    more = len(names) - MAX_NAMES_IN_ERROR
    return shown + (f" ... (+{more} more)" if more > 0 else "")


def pair_folders(folders: dict[str, str]) -> tuple[list[str], dict[str, list[str]]]:
    """Pair the files of several folders by sorted stem.

    Args:
        folders: {role: folder}, e.g. {"generated": G, "targets": T}.

    Returns:
        (sorted stems, {role: [path per stem]}).

    Raises:
        ImageFolderError: a folder is missing/empty or the name sets differ.
    """
    listed = {role: list_images(folder, role) for role, folder in folders.items()}
    roles = list(listed)
    reference = set(listed[roles[0]])
    problems = []
    for role in roles[1:]:
        names = set(listed[role])
        missing = reference - names
        extra = names - reference
        if missing:
            problems.append(f"{len(missing)} file(s) of {roles[0]} missing from {role} "
                            f"({folders[role]}): {_names(missing)}")
        if extra:
            problems.append(f"{len(extra)} file(s) in {role} ({folders[role]}) have no "
                            f"counterpart in {roles[0]}: {_names(extra)}")
    if problems:
        raise ImageFolderError("the folders do not pair by file name:\n  "
                               + "\n  ".join(problems))
    stems = sorted(reference)
    return stems, {role: [listed[role][s] for s in stems] for role in roles}


def _open(path: str) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ImageFolderError(f"{path}: not a readable image ({err})") from err
    return image


def load_rgb(path: str) -> np.ndarray:
    """An 8-bit RGB file as (H, W, 3) uint8; other modes are errors."""
    image = _open(path)
    if image.mode != "RGB":
        raise ImageFolderError(
            f"{path}: expected an 8-bit RGB image, got PIL mode {image.mode!r} "
            "(grayscale, RGBA, palette and 16-bit files are not converted: the metric "
            "protocols are defined on uint8 RGB; convert the file explicitly)")
    return np.asarray(image, dtype=np.uint8)


def load_mask(path: str) -> np.ndarray:
    """An 8-bit single-channel mask file (x255 pose mask) as (H, W) uint8."""
    image = _open(path)
    if image.mode != "L":
        raise ImageFolderError(
            f"{path}: expected an 8-bit single-channel (mode 'L') mask, got PIL mode "
            f"{image.mode!r}")
    return np.asarray(image, dtype=np.uint8)


def load_stack(paths: list[str], loader) -> np.ndarray:
    """Stack images of one folder; all must share one size."""
    arrays = []
    for path in paths:
        array = loader(path)
        if arrays and array.shape != arrays[0].shape:
            raise ImageFolderError(
                f"{path}: size {array.shape[1]}x{array.shape[0]} differs from "
                f"{paths[0]} ({arrays[0].shape[1]}x{arrays[0].shape[0]}); all images of "
                "a folder must have one size")
        arrays.append(array)
    return np.stack(arrays)


def check_same_size(stacks: dict[str, np.ndarray], paths: dict[str, list[str]]) -> None:
    """All roles must have the same H x W (masks have no channel axis)."""
    roles = list(stacks)
    h0, w0 = stacks[roles[0]].shape[1:3]
    for role in roles[1:]:
        h, w = stacks[role].shape[1:3]
        if (h, w) != (h0, w0):
            raise ImageFolderError(
                f"{role} images are {w}x{h} (e.g. {paths[role][0]}) but {roles[0]} images "
                f"are {w0}x{h0} (e.g. {paths[roles[0]][0]}); paired images must have one "
                "size (resize or pad them explicitly, as the protocol prescribes)")
