"""Generated product pictures: products have no photos, so each gets an SVG drawn from its
category (palette and motif) and its name (a seeded pattern and the name as a caption)."""

from __future__ import annotations

import hashlib
from html import escape
from textwrap import wrap

PALETTES = {
    "christmas": ("#7a1f2b", "#f3e6d8", "#2f5d50"),
    "bags": ("#2d4a6b", "#f1ece2", "#d98e48"),
    "candles": ("#6b4a2d", "#fbf3e4", "#e0a93b"),
    "kitchen-dining": ("#3e6659", "#f4efe6", "#d3643b"),
    "cards-wrap": ("#5b3f73", "#f6eff4", "#e07a8c"),
    "home-decor": ("#44546a", "#f2efe9", "#b38b59"),
    "garden": ("#3d6b35", "#eef3e4", "#c2a83e"),
    "toys-games": ("#2d6a8f", "#fdf5df", "#e4573d"),
}
DEFAULT_PALETTE = ("#4a4e69", "#f2e9e4", "#c9ada7")

MOTIFS = {
    "christmas": '<path d="M160 60 L200 130 H180 L215 185 H105 L140 130 H120 Z" fill="{accent}"/>',
    "bags": '<path d="M110 110 H210 L200 200 H120 Z" fill="{accent}"/>'
    '<path d="M135 110 C135 70 185 70 185 110" fill="none" stroke="{accent}" stroke-width="8"/>',
    "candles": '<rect x="140" y="90" width="40" height="100" rx="6" fill="{accent}"/>'
    '<path d="M160 55 C175 75 170 85 160 88 C150 85 145 75 160 55 Z" fill="{ink}"/>',
    "kitchen-dining": '<circle cx="160" cy="130" r="58" fill="none" stroke="{accent}"'
    ' stroke-width="10"/><circle cx="160" cy="130" r="34" fill="{accent}"/>',
    "cards-wrap": '<rect x="105" y="80" width="110" height="100" fill="{accent}"/>'
    '<path d="M105 80 L160 135 L215 80" fill="none" stroke="{paper}" stroke-width="6"/>',
    "garden": '<path d="M160 190 C90 150 110 80 160 60 C210 80 230 150 160 190 Z"'
    ' fill="{accent}"/>',
    "toys-games": '<rect x="115" y="85" width="90" height="90" rx="12" fill="{accent}"/>'
    '<circle cx="140" cy="110" r="8" fill="{paper}"/><circle cx="180" cy="150" r="8"'
    ' fill="{paper}"/><circle cx="160" cy="130" r="8" fill="{paper}"/>',
}
DEFAULT_MOTIF = (
    '<rect x="110" y="95" width="100" height="85" rx="6" fill="{accent}"/>'
    '<rect x="150" y="95" width="20" height="85" fill="{paper}"/>'
    '<path d="M160 95 C140 60 115 75 160 95 C205 75 180 60 160 95 Z" fill="{accent}"/>'
)


def picture_seed(key: str) -> bytes:
    """The bytes that place a picture's dots: the same for the same key."""
    return hashlib.sha256(key.encode()).digest()


def _pattern(seed: bytes, ink: str) -> str:
    dots = []
    for i in range(0, 24, 2):
        x, y = 10 + seed[i] % 300, 10 + seed[i + 1] % 200
        radius = 3 + seed[i] % 9
        dots.append(f'<circle cx="{x}" cy="{y}" r="{radius}" fill="{ink}" opacity="0.08"/>')
    return "".join(dots)


def product_svg(name: str, category_slug: str | None, sku: str) -> str:
    """Return a 320x320 SVG picture for a product, stable for the same inputs."""
    ink, paper, accent = PALETTES.get(category_slug or "", DEFAULT_PALETTE)
    motif = MOTIFS.get(category_slug or "", DEFAULT_MOTIF).format(
        accent=accent, ink=ink, paper=paper
    )
    lines = wrap(name, 24)[:3]
    caption = "".join(
        f'<text x="160" y="{244 + i * 22}" text-anchor="middle">{escape(line)}</text>'
        for i, line in enumerate(lines)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 320 320" role="img" '
        f'aria-label="{escape(name, quote=True)}">'
        f'<rect width="320" height="320" fill="{paper}"/>'
        f"{_pattern(picture_seed(sku), ink)}{motif}"
        f'<g font-family="Georgia, serif" font-size="17" fill="{ink}">{caption}</g>'
        "</svg>"
    )
