"""`python -m dpig_tf.data.inspect`: check data preparation by eye and by array.

Writes `contact_sheet.png` (one row per image: the image, its skeleton, its
pose mask, its 7 ROI boxes) and one `<image name>.npz` per image holding
exactly `heatmaps` (H, W, 18 float32 +1/-1), `pose_mask` (H, W uint8 0/1, the
dataset's primary radius), `roi_boxes` (7, 4 int32 [y1, x1, y2, x2]),
`roi_vis` (7,) and `keypoints_rcv` (18, 3), computed by the NumPy references
of `dpig_tf.data.pose` from the same validated index the training pipeline uses.

Usage:
    python -m dpig_tf.data.inspect --dataset=market --images=DIR
        --annotations=CSV --out=DIR [--limit=N]

Reference: SPEC.md sections 1.4-1.6.
"""

from __future__ import annotations

import io
import json
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

from dpig_tf import cli
from dpig_tf.config import DataConfig
from dpig_tf.data import keypoints_csv
from dpig_tf.data import pose
from dpig_tf.errors import UserError

SIZES = {"market": (128, 64, 7), "demo": (128, 64, 7), "deepfashion": (256, 256, 8)}
PART_COLOURS = ((255, 0, 0), (0, 200, 0), (0, 0, 255), (255, 200, 0), (255, 0, 255),
                (0, 255, 255), (255, 128, 0))
LEFT = (5, 6, 7, 11, 12, 13, 15, 17)


def inspect_dataset(dataset: str, images: str, annotations: str, out: str,
                    limit: int = 0, height: int = 0, width: int = 0, mask_radius: int = 0,
                    heatmap_radius: int = 4, pad_width_to: int = 0) -> dict:
    """Writes the contact sheet and per-image arrays; returns a summary dict."""
    from dpig_tf.data import pipeline  # TensorFlow: after the cheap input checks of `main`

    h0, w0, r0 = SIZES[dataset]
    cfg = DataConfig(dataset=dataset, images=images, annotations=annotations,
                     image_height=height or h0, image_width=width or w0,
                     mask_radius=mask_radius or r0, heatmap_radius=heatmap_radius,
                     pad_width_to=pad_width_to)
    if dataset == "demo":  # explicit folders: read them as Market, do not render
        cfg.dataset = "market"
    index = pipeline.build_index(cfg, "train")
    height, width = cfg.image_height, cfg.image_width
    count = len(index) if limit <= 0 else min(limit, len(index))
    os.makedirs(out, exist_ok=True)
    rows = []
    rule = "deepfashion" if dataset == "deepfashion" else "market"
    for i in range(count):
        name, kps = index.names[i], index.keypoints[i]
        image = _load(index.sources[i], index.pad[i])
        heat = pose.keypoints_to_heatmaps(kps, height, width, cfg.heatmap_radius)
        mask = pose.pose_mask(kps, height, width, cfg.mask_radius)
        boxes, vis = pose.roi_boxes(kps, height, width, rule)
        np.savez(os.path.join(out, name + ".npz"), heatmaps=heat.astype(np.float32),
                 pose_mask=mask.astype(np.uint8), roi_boxes=boxes.astype(np.int32),
                 roi_vis=vis, keypoints_rcv=kps.astype(np.float32))
        rows.append(_row(image, kps, mask, boxes, vis))
    sheet = np.concatenate(rows, axis=0) if rows else np.zeros((1, 1, 3), np.uint8)
    sheet_path = os.path.join(out, "contact_sheet.png")
    Image.fromarray(sheet).save(sheet_path)
    return {"images": count, "contact_sheet": sheet_path, "out": out,
            "skipped": index.skipped, "clipped_keypoints": index.clipped}


def _load(source, pad) -> np.ndarray:
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    with Image.open(handle) as img:
        arr = np.asarray(img.convert("RGB"))
    return np.pad(arr, ((0, 0), (pad[0], pad[1]), (0, 0)), constant_values=255)


def _row(image, kps, mask, boxes, vis) -> np.ndarray:
    skeleton = Image.fromarray(image.copy())
    draw = ImageDraw.Draw(skeleton)
    for a, b in pose.LIMBS:
        if kps[a, 2] > 0.5 and kps[b, 2] > 0.5:
            draw.line([(kps[a, 1], kps[a, 0]), (kps[b, 1], kps[b, 0])], fill=(255, 255, 0))
    for j in range(18):
        if kps[j, 2] > 0.5:
            colour = (0, 128, 255) if j in LEFT else (255, 64, 64)
            x, y = kps[j, 1], kps[j, 0]
            draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=colour)
    masked = (image * (0.25 + 0.75 * mask[..., None])).astype(np.uint8)
    boxed = Image.fromarray(image.copy())
    draw = ImageDraw.Draw(boxed)
    for p in range(len(boxes)):
        if vis[p]:
            y1, x1, y2, x2 = (int(v) for v in boxes[p])
            draw.rectangle([x1, y1, x2, y2], outline=PART_COLOURS[p])
    sep = np.full((image.shape[0], 2, 3), 255, np.uint8)
    return np.concatenate([image, sep, np.asarray(skeleton), sep, masked, sep,
                           np.asarray(boxed)], axis=1)


def main(argv=None) -> None:
    parser = cli.ArgumentParser(description="Contact sheet + per-image arrays.")
    parser.add_argument("--dataset", required=True, choices=tuple(SIZES))
    parser.add_argument("--images", required=True, help="image folder")
    parser.add_argument("--annotations", required=True, help="annotation CSV")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--limit", type=int, default=0, help="first N images (0 = all)")
    parser.add_argument("--height", type=int, default=0, help="image height (0 = dataset's)")
    parser.add_argument("--width", type=int, default=0, help="image width (0 = dataset's)")
    parser.add_argument("--mask_radius", type=int, default=0, help="0 = dataset's primary")
    parser.add_argument("--pad_width_to", type=int, default=0,
                        help="pad narrower images to this width (DeepFashion 176 -> 256)")
    args = parser.parse_args(argv)
    # Fail fast on the common mistakes, before TensorFlow is imported.
    if not os.path.isdir(args.images):
        raise UserError("expected an image folder, found "
                        f"{'a file' if os.path.exists(args.images) else 'nothing'}",
                        args.images, field="--images")
    keypoints_csv.read_annotation_csv_with_lines(args.annotations)
    summary = inspect_dataset(args.dataset, args.images, args.annotations, args.out,
                              args.limit, args.height, args.width, args.mask_radius,
                              pad_width_to=args.pad_width_to)
    print(json.dumps(summary))


if __name__ == "__main__":
    cli.run(main)
