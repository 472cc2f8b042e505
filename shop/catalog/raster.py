"""PNG versions of the generated product pictures, for the places that take no SVG: link
previews (Open Graph, X, Slack) and search engines' product listings. Same palette, motif and
seeded dots as the SVG (the motif is drawn from the SVG's own shapes), with the name wrapped
in a bundled font, so that every machine draws the same picture."""

from __future__ import annotations

import io
import re
import threading
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from shop.catalog.images import DEFAULT_MOTIF, DEFAULT_PALETTE, MOTIFS, PALETTES, picture_seed

FONT_PATH = Path(__file__).resolve().parent.parent / "static" / "vendor" / "DejaVuSerif.ttf"


@dataclass(frozen=True)
class Shape:
    """A PNG picture's size in pixels."""

    width: int
    height: int


# og:image wants about 1.91:1 (Facebook, LinkedIn, X's large card, Slack); Google's product
# results ask for 1:1, 4:3 and 16:9 pictures of at least 50,000 pixels.
SHAPES = {
    "social": Shape(1200, 630),
    "square": Shape(1200, 1200),
    "4x3": Shape(1200, 900),
    "16x9": Shape(1200, 675),
}
SOCIAL, STRUCTURED_DATA = "social", ("square", "4x3", "16x9")
SUPERSAMPLE = 2  # shapes are drawn at twice the size, then scaled down: smooth edges
_NOT_A_CHARACTER = "\U0010fffd"  # a private-use code point no font draws: its "missing" box
# One FreeType face is shared by all threads and is not safe to use from two at once.
_DRAWING = threading.Lock()


class UnknownShapeError(ValueError):
    """No PNG picture of that shape is drawn."""


def product_png(name: str, category_slug: str | None, sku: str, shape: str) -> bytes:
    """The PNG picture of a product in one of `SHAPES`, the same bytes for the same inputs."""
    if shape not in SHAPES:
        raise UnknownShapeError(f"no {shape!r} picture; one of {', '.join(SHAPES)}")
    with _DRAWING:
        return _render(name, category_slug or "", sku, shape)


@lru_cache(maxsize=512)  # a few tens of kB each; drawing one takes tens of milliseconds
def _render(name: str, slug: str, sku: str, shape_name: str) -> bytes:
    shape = SHAPES[shape_name]
    ink, paper, accent = PALETTES.get(slug, DEFAULT_PALETTE)
    width, height = shape.width * SUPERSAMPLE, shape.height * SUPERSAMPLE
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    _draw_dots(image, picture_seed(sku), ink)
    motif = MOTIFS.get(slug, DEFAULT_MOTIF).format(accent=accent, ink=ink, paper=paper)
    side_by_side = width >= height * 1.2
    if side_by_side:  # the motif on the left, the name beside it in large type
        panel = min(height, width * 0.4)
        scale = panel / 200
        origin = (panel / 2 - 160 * scale + width * 0.04, height / 2 - 128 * scale)
        box = (int(panel + width * 0.08), int(height * 0.1), int(width * 0.94), height * 0.9)
        sizes, max_lines, align = (height * 0.12, height * 0.06), 4, "left"
    else:  # the SVG's layout: the motif above, the name below
        scale = width / 320
        origin = (0.0, -12 * scale)
        box = (int(width * 0.08), int(height * 0.70), int(width * 0.92), height * 0.95)
        sizes, max_lines, align = (width * 20 / 320, width * 13 / 320), 3, "center"
    _draw_motif(draw, motif, scale, origin)
    _draw_caption(draw, name, box, sizes, max_lines, align, ink)
    image = image.resize((shape.width, shape.height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _draw_dots(image: Image.Image, seed: bytes, ink: str) -> None:
    # The SVG's seeded dots at 8% opacity, spread over the whole picture.
    layer = Image.new("L", image.size, 0)
    dots = ImageDraw.Draw(layer)
    sx, sy = image.width / 320, image.height / 220
    unit = min(sx, sy)
    for i in range(0, 24, 2):
        x, y, radius = (10 + seed[i] % 300) * sx, (10 + seed[i + 1] % 200) * sy, 3 + seed[i] % 9
        r = radius * unit
        dots.ellipse((x - r, y - r, x + r, y + r), fill=round(255 * 0.08))
    image.paste(Image.new("RGB", image.size, ink), mask=layer)


def _draw_motif(
    draw: ImageDraw.ImageDraw, motif: str, scale: float, origin: tuple[float, float]
) -> None:
    """Draw the SVG motif's rects, circles and paths (M, L, H, C, Z commands)."""
    ox, oy = origin

    def at(x: float, y: float) -> tuple[float, float]:
        return ox + x * scale, oy + y * scale

    for node in ET.fromstring(f"<g>{motif}</g>"):
        fill, stroke = node.get("fill", "none"), node.get("stroke")
        line = float(node.get("stroke-width", "1")) * scale
        if node.tag == "rect":
            x, y = float(node.get("x", "0")), float(node.get("y", "0"))
            w, h = float(node.get("width", "0")), float(node.get("height", "0"))
            corners = (*at(x, y), *at(x + w, y + h))
            draw.rounded_rectangle(corners, float(node.get("rx", "0")) * scale, fill=fill)
        elif node.tag == "circle":
            cx, cy, r = (float(node.get(k, "0")) for k in ("cx", "cy", "r"))
            corners = (*at(cx - r, cy - r), *at(cx + r, cy + r))
            if fill != "none":
                draw.ellipse(corners, fill=fill)
            if stroke:
                draw.ellipse(corners, outline=stroke, width=round(line))
        elif node.tag == "path":
            points = [at(x, y) for x, y in _path_points(node.get("d", ""))]
            if fill != "none":
                draw.polygon(points, fill=fill)
            if stroke:
                draw.line(points, fill=stroke, width=round(line), joint="curve")


def _path_points(d: str) -> Iterator[tuple[float, float]]:
    tokens = re.findall(r"[A-Za-z]|-?\d*\.?\d+", d)
    x = y = 0.0
    i = 0
    while i < len(tokens):
        command = tokens[i]
        if command in ("M", "L"):
            x, y = float(tokens[i + 1]), float(tokens[i + 2])
            i += 3
            yield x, y
        elif command == "H":
            x = float(tokens[i + 1])
            i += 2
            yield x, y
        elif command == "C":
            c1x, c1y, c2x, c2y, ex, ey = (float(t) for t in tokens[i + 1 : i + 7])
            for step in range(1, 17):
                t = step / 16
                a, b, c, e = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3
                yield (a * x + b * c1x + c * c2x + e * ex, a * y + b * c1y + c * c2y + e * ey)
            x, y = ex, ey
            i += 7
        elif command == "Z":
            i += 1
        else:
            raise ValueError(f"unsupported path command {command!r} in a motif")


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # The basic layout engine: the same glyph positions with or without libraqm installed.
    return ImageFont.truetype(str(FONT_PATH), size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=4096)
def _drawable(char: str) -> bool:
    font = _font(40)
    missing = font.getmask(_NOT_A_CHARACTER)
    glyph = font.getmask(char)
    return (glyph.size, bytes(glyph)) != (missing.size, bytes(missing))


def caption_text(name: str) -> str:
    """The name as the font can draw it: composed accents, letters it lacks replaced by their
    plain form where there is one (ﬁ by fi) and left out where not (most CJK, emoji)."""
    kept = []
    for char in unicodedata.normalize("NFC", name):
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            kept.append(" ")
        elif _drawable(char):
            kept.append(char)
        else:
            plain = unicodedata.normalize("NFKD", char)
            if plain != char:
                kept.extend(c for c in plain if not unicodedata.combining(c) and _drawable(c))
    return " ".join("".join(kept).split())


def wrap_lines(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """`text` in lines no wider than `width` pixels, broken between words (inside a word
    only when the word alone is too wide)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = ""
        for char in word:  # a word wider than the line: as much of it as fits, then the rest
            if current and font.getlength(current + char) > width:
                lines.append(current)
                current = ""
            current += char
    if current:
        lines.append(current)
    return lines


def _shorten(line: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    line = line.rstrip()
    while line and font.getlength(line + "…") > width:
        line = line[:-1].rstrip()
    return line.rstrip(" ,;:.-\u2013\u2014") + "…"


def _draw_caption(
    draw: ImageDraw.ImageDraw,
    name: str,
    box: tuple[int, int, int, float],
    sizes: tuple[float, float],
    max_lines: int,
    align: str,
    ink: str,
) -> None:
    """The name in the box, in the largest size from sizes[0] down to sizes[1] that fits in
    `max_lines`; at the smallest size, the last line ends with an ellipsis."""
    text = caption_text(name)
    if not text:
        return
    left, top, right, bottom = box
    largest, smallest = round(sizes[0]), round(sizes[1])
    size = largest
    while True:
        font = _font(size)
        lines = wrap_lines(text, font, right - left)
        leading = round(size * 1.25)
        room = max(1, min(max_lines, int((bottom - top) // leading)))
        whole_words = all(font.getlength(word) <= right - left for word in text.split())
        if (len(lines) <= room and whole_words) or size <= smallest:
            break
        size = max(smallest, round(size * 0.9))
    if len(lines) > room:
        lines = lines[:room]
        lines[-1] = _shorten(lines[-1], font, right - left)
    block = len(lines) * leading
    y = top + max(0.0, (bottom - top - block) / 2) if align == "left" else top
    for line in lines:
        x = left if align == "left" else (left + right - font.getlength(line)) / 2
        draw.text((x, y), line, font=font, fill=ink)
        y += leading
