"""The confusion matrix as a heat-map image (TensorBoard's ``<split>/confusion_matrix``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

_MAX_GRID_PX = 1000  # the grid never exceeds this for up to 1000 classes
_MAX_CELL_PX = 64
_LABEL_CHARS = 18
_FONT_PX = 12
_WHITE = np.array([247, 251, 255], dtype=np.float64)  # light end of a "Blues" ramp
_DARK = np.array([8, 48, 107], dtype=np.float64)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _fit_label(name: str, font: Any) -> str:
    if not isinstance(font, ImageFont.FreeTypeFont):
        # The bitmap fallback font only encodes Latin-1.
        name = name.encode("latin-1", "replace").decode("latin-1")
    return name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…"


def _text_size(draw: ImageDraw.ImageDraw, text: str, font: Any) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)


def render_confusion_matrix(
    confusion: Sequence[Sequence[int]], class_names: Sequence[str], *, normalize: bool = True
) -> Image.Image:
    """A heat-map of ``confusion`` (rows = true class, columns = predicted) as an RGB image.

    Colours are row-normalised (each true class's recall distribution) when ``normalize``; otherwise
    scaled by the largest count. Counts are printed in cells when cells are large enough; axis
    labels are truncated to ``_LABEL_CHARS`` characters and thinned out when cells are smaller than
    a line of text, so 200 classes still give an image of about 1.2k pixels square.
    """
    counts = np.asarray(confusion, dtype=np.int64)
    n = len(class_names)
    if counts.ndim != 2 or counts.shape != (n, n) or n == 0:
        raise ValueError(f"confusion matrix of shape {counts.shape} does not match {n} class names")
    if normalize:
        rows = counts.sum(axis=1, keepdims=True)
        shade = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    else:
        peak = counts.max()
        shade = counts / peak if peak > 0 else np.zeros(counts.shape)
    cell = max(1, min(_MAX_CELL_PX, _MAX_GRID_PX // n))
    grid_px = cell * n
    rgb = _WHITE + (_DARK - _WHITE) * shade[..., None]
    grid = Image.fromarray(rgb.round().astype(np.uint8), "RGB").resize(
        (grid_px, grid_px), Image.Resampling.NEAREST
    )

    font = _font(_FONT_PX)
    probe = ImageDraw.Draw(grid)
    labels = [_fit_label(str(c), font) for c in class_names]
    label_w = max(_text_size(probe, s, font)[0] for s in labels)
    line_h = _text_size(probe, "Hg", font)[1] + 2
    every = max(1, math.ceil(line_h / cell))  # thin labels so they never overlap
    pad = 6
    left = label_w + line_h + 3 * pad  # y tick labels + rotated "true" axis title
    top = line_h + 2 * pad  # title
    bottom = label_w + line_h + 4 * pad  # rotated x tick labels + "predicted" axis title
    title = "confusion matrix (row-normalised)" if normalize else "confusion matrix (counts)"
    width = left + max(grid_px, _text_size(probe, title, font)[0]) + pad * 2
    height = top + grid_px + bottom
    img = Image.new("RGB", (width, height), "white")
    img.paste(grid, (left, top))
    draw = ImageDraw.Draw(img)

    if cell >= 6:
        for i in range(n + 1):
            xy = i * cell
            draw.line([(left + xy, top), (left + xy, top + grid_px)], fill=(210, 210, 210))
            draw.line([(left, top + xy), (left + grid_px, top + xy)], fill=(210, 210, 210))

    if cell >= 2 * line_h:
        for r in range(n):
            for c in range(n):
                text = str(int(counts[r, c]))
                tw, th = _text_size(draw, text, font)
                if tw > cell - 4:
                    continue
                colour = "white" if shade[r, c] > 0.5 else (40, 40, 40)
                x = left + c * cell + (cell - tw) // 2
                y = top + r * cell + (cell - th) // 2
                draw.text((x, y), text, fill=colour, font=font, anchor="lt")

    draw.text((left, pad), title, fill="black", font=font, anchor="lt")
    for i in range(0, n, every):
        tw, _ = _text_size(draw, labels[i], font)
        y = top + i * cell + cell // 2
        draw.text((left - pad - tw, y), labels[i], fill="black", font=font, anchor="lm")
    # x labels: draw horizontally on a strip, rotate it 90° and paste under the grid.
    strip = Image.new("RGB", (label_w + pad, grid_px), "white")
    sdraw = ImageDraw.Draw(strip)
    for i in range(0, n, every):
        # Right-aligned so that, once rotated, every label ends next to the grid.
        sdraw.text((label_w, i * cell + cell // 2), labels[i], fill="black", font=font, anchor="rm")
    img.paste(strip.transpose(Image.Transpose.ROTATE_90), (left, top + grid_px + pad))
    draw.text(
        (left + grid_px // 2, height - pad), "predicted", fill="black", font=font, anchor="md"
    )
    axis = Image.new("RGB", (max(grid_px, 1), line_h), "white")
    ImageDraw.Draw(axis).text((grid_px // 2, 0), "true", fill="black", font=font, anchor="mt")
    img.paste(axis.transpose(Image.Transpose.ROTATE_90), (pad, top))
    return img
