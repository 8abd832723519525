"""Pictures drawn for corpus inputs where no bundled photo shows what a model looks for.

Seeded and drawn with Pillow and the font Pillow bundles (not a system font), so every machine draws
the same pixels: a ruled table, a book's two pages with ISBN lines and their EAN-13 barcodes, and
captcha glyphs over a photo. Each returns an RGB picture of the requested width and height.
"""

from __future__ import annotations

import numpy as np

# EAN-13: the first digit picks which of the left six digits use the L or the G code; the right six
# use R (the bitwise complement of L); G is R reversed (the GS1 EAN-13 symbol).
_L = ("0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011")
_R = tuple(code.translate(str.maketrans("01", "10")) for code in _L)
_G = tuple(code[::-1] for code in _R)
_PARITY = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")


def isbn13(rng) -> list[int]:
    """A valid ISBN-13 (a 978 prefix, nine seeded digits, its check digit)."""
    digits = [9, 7, 8] + [int(d) for d in rng.integers(0, 10, 9)]
    weighted = sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits))
    return digits + [(10 - weighted % 10) % 10]


def ean13_modules(digits: list[int]) -> str:
    """The 95 modules ("1" = a dark bar) of the EAN-13 symbol of 13 digits."""
    left = "".join((_L if p == "L" else _G)[d] for p, d in zip(_PARITY[digits[0]], digits[1:7]))
    return "101" + left + "01010" + "".join(_R[d] for d in digits[7:]) + "101"


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=max(size, 6))


def table(width: int, height: int, rng):
    """A ruled table on a white page, as a document scan shows one: black grid lines 2 px wide (seeded
    column positions) and a number in each cell."""
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    left, top, right, bottom = width // 12, height // 8, width - width // 12, height - height // 6
    rows = np.linspace(top, bottom, 9).astype(int)
    inner = np.sort(rng.choice(np.arange(left + width // 12, right - width // 12), 3, replace=False))
    cols = np.r_[left, inner, right]
    for y in rows:
        draw.line([(left, int(y)), (right, int(y))], fill=(0, 0, 0), width=2)
    for x in cols:
        draw.line([(int(x), top), (int(x), bottom)], fill=(0, 0, 0), width=2)
    for y in rows[:-1]:
        for x in cols[:-1]:
            draw.text((int(x) + 6, int(y) + 8), str(rng.integers(10, 99999)), fill=(0, 0, 0))
    return page


def book_pages(width: int, height: int, rng):
    """A scanned book spread: two pages, each with an imprint (title, publisher, an "ISBN 978-..." line)
    and the EAN-13 barcode of that ISBN with its digits, as copyright pages and back covers print them."""
    from PIL import Image

    spread = Image.new("RGB", (width, height), (200, 200, 200))  # the gutter between the pages
    gutter = max(width // 80, 1)
    for i in range(2):
        page = _page(width // 2 - gutter, height, isbn13(rng))
        spread.paste(page, (0 if i == 0 else width // 2 + gutter, 0))
    return spread


def _page(width: int, height: int, digits: list[int]):
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    size = height // 40
    text = "".join(map(str, digits))
    isbn = f"ISBN {text[:3]}-{text[3]}-{text[4:7]}-{text[7:12]}-{text[12]}"
    y = height * 3 // 32
    for line in ("Edge compilers / A. Author.", "Example Press, 2026", isbn, "Printed in China"):
        draw.text((width * 3 // 40, y), line, font=_font(size), fill=(0, 0, 0))
        y += size * 9 // 5
    module = max(round(height / 320), 1)
    x0, top, bars = (width - 95 * module) // 2, y + height * 3 // 32, 40 * module
    for i, bit in enumerate(ean13_modules(digits)):
        guard = i < 3 or 45 <= i < 50 or i >= 92  # guard bars reach below the digits
        if bit == "1":
            draw.rectangle([x0 + i * module, top, x0 + (i + 1) * module - 1, top + bars + (4 * module if guard else 0)],
                           fill=(0, 0, 0))
    font, below = _font(7 * module), top + bars + 2
    draw.text((x0 - 8 * module, below), text[0], font=font, fill=(0, 0, 0))
    draw.text((x0 + 4 * module, below), text[1:7], font=font, fill=(0, 0, 0))
    draw.text((x0 + 51 * module, below), text[7:], font=font, fill=(0, 0, 0))
    return page


def glyphs(picture, rng, count: int = 4):
    """`picture` with `count` large letters or digits drawn on it in seeded colours with a light outline,
    one per region of a 2x2 grid so none overlap, as a click captcha shows the glyphs to click."""
    from PIL import ImageDraw

    picture = picture.copy()
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    size = height // 9
    font = _font(size)
    for i, char in enumerate(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ2345678"), count, replace=False)):
        cell_x, cell_y = (i % 2) * width // 2, (i // 2 % 2) * height // 2
        x = cell_x + int(rng.integers(width // 16, width // 2 - size - width // 16))
        y = cell_y + int(rng.integers(height // 16, height // 2 - size - height // 16))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.text((x, y), str(char), font=font, fill=colour, stroke_width=max(size // 24, 1),
                  stroke_fill=(255, 255, 255))
    return picture
