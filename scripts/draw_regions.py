"""Draws docs/regions.png: the 7 body-region boxes of `--regions` on a demo render.

  python scripts/draw_regions.py [--out docs/regions.png] [--dataset demo]

The boxes are the encoder's ROI boxes (SPEC 1.6 rules, `dpig_tf.data.pose.roi_boxes`)
of a synthetic demo person (`dpig_tf.data.synthetic`), labelled with the region names
of `dpig_tf.apps.regions.REGION_NAMES`; the image is upscaled 4x so labels fit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
from PIL import Image
from PIL import ImageDraw
from PIL import ImageFont

from dpig_tf.apps.regions import REGION_NAMES
from dpig_tf.data import pose
from dpig_tf.data import synthetic

SCALE = 4
COLORS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
          (70, 240, 240), (240, 50, 230))
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def render_demo_person(seed: int = 3, height: int = 128, width: int = 64):
    rng = np.random.default_rng([0, 2, seed, 0])
    fg = synthetic.identity_params(np.random.default_rng([0, 1, seed]))
    return synthetic.render_person(fg, synthetic.pose_params(rng),
                                   synthetic.background_params(rng), height, width)


def draw(dataset: str = "demo") -> Image.Image:
    image, keypoints = render_demo_person()
    h, w = image.shape[:2]
    boxes, vis = pose.roi_boxes(keypoints, h, w, dataset=dataset)
    font = ImageFont.truetype(FONT, 13) if os.path.isfile(FONT) else ImageFont.load_default()
    panels = []
    for k, name in enumerate(REGION_NAMES):
        big = Image.fromarray(image).resize((w * SCALE, h * SCALE), Image.NEAREST)
        canvas = Image.new("RGB", (w * SCALE, h * SCALE + 22), "white")
        canvas.paste(big, (0, 22))
        pen = ImageDraw.Draw(canvas)
        if vis[k]:
            y1, x1, y2, x2 = (int(v) * SCALE for v in boxes[k])
            pen.rectangle([x1, y1 + 22, x2 + SCALE - 1, y2 + SCALE - 1 + 22], outline=COLORS[k],
                          width=3)
        pen.text((4, 3), f"{k}: {name}", fill=COLORS[k], font=font)
        panels.append(canvas)
    out = Image.new("RGB", (sum(p.width for p in panels) + 4 * (len(panels) + 1),
                            panels[0].height + 8), "white")
    x = 4
    for panel in panels:
        out.paste(panel, (x, 4))
        x += panel.width + 4
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/regions.png")
    parser.add_argument("--dataset", default="demo", choices=("demo", "market", "deepfashion"))
    args = parser.parse_args(argv)
    image = draw(args.dataset)
    directory = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=directory)
    os.close(fd)
    image.save(tmp)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({image.width}x{image.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
