#!/usr/bin/env python3
"""Renders a terminal capture with ANSI SGR colour codes to a PNG, as a terminal would show it.

Usage: ansi_to_png.py --cols N --rows N [--font-size PX] IN.ans OUT.png [IN2.ans OUT2.png ...]

IN is what `tmux capture-pane -p -e -N` prints: one line per screen row, SGR sequences
(ECMA-48 `CSI ... m`) carrying the attributes, which persist from one line to the next.
Supported: reset, bold, dim, italic, underline, blink (ignored), reverse, invisible,
strike-through and their resets; the 8/16 colours (30-37, 90-97, 40-47, 100-107), 256
colours and 24-bit colours (`38;5;N`, `38;2;R;G;B`, colon forms too), default colours (39/49).
Other escape sequences (OSC hyperlinks, other CSI) are skipped.

Cells: East Asian Wide/Fullwidth characters take two cells, combining marks join the
previous cell. Box-drawing lines (U+2500-U+257F) and block elements (U+2580-U+259F) are drawn
as shapes so lines join across cells; other text uses DejaVu Sans Mono, with a fontconfig
fallback font (fc-match) for characters it lacks, and an empty box when none has them.
Needs Pillow (Debian: python3-pil) and DejaVu Sans Mono (Debian: fonts-dejavu-core).
"""
import argparse
import os
import re
import subprocess
import sys
import unicodedata

from PIL import Image, ImageDraw, ImageFont

# Dark theme (Tango palette, as GNOME Terminal ships it), default colours and background.
PALETTE16 = [
    (0x2E, 0x34, 0x36), (0xCC, 0x00, 0x00), (0x4E, 0x9A, 0x06), (0xC4, 0xA0, 0x00),
    (0x34, 0x65, 0xA4), (0x75, 0x50, 0x7B), (0x06, 0x98, 0x9A), (0xD3, 0xD7, 0xCF),
    (0x55, 0x57, 0x53), (0xEF, 0x29, 0x29), (0x8A, 0xE2, 0x34), (0xFC, 0xE9, 0x4F),
    (0x72, 0x9F, 0xCF), (0xAD, 0x7F, 0xA8), (0x34, 0xE2, 0xE2), (0xEE, 0xEE, 0xEC),
]
DEFAULT_FG = (0xD3, 0xD7, 0xCF)
DEFAULT_BG = (0x1C, 0x1F, 0x21)
PADDING = 14

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF"]
FONT_FILES = {
    (False, False): "DejaVuSansMono.ttf", (True, False): "DejaVuSansMono-Bold.ttf",
    (False, True): "DejaVuSansMono-Oblique.ttf", (True, True): "DejaVuSansMono-BoldOblique.ttf",
}


def colour256(n):
    """xterm's 256-colour table: 16 system colours, a 6×6×6 cube, 24 greys."""
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        return (levels[n // 36], levels[(n // 6) % 6], levels[n % 6])
    g = 8 + 10 * (n - 232)
    return (g, g, g)


class Attr:
    __slots__ = ("fg", "bg", "bold", "dim", "italic", "underline", "reverse", "invisible", "strike")

    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None  # None = default colour, else an (r, g, b) tuple
        self.bg = None
        self.bold = self.dim = self.italic = self.underline = False
        self.reverse = self.invisible = self.strike = False

    def copy(self):
        a = Attr()
        for k in self.__slots__:
            setattr(a, k, getattr(self, k))
        return a


def apply_sgr(attr, params):
    """Applies one SGR parameter string (`1;38;5;208`, `38:2::10:20:30`) to attr."""
    if params == "":
        attr.reset()
        return
    # Colon sub-parameters (ITU T.416) are grouped with their leading number.
    groups = [[int(x) if x.isdigit() else None for x in g.split(":")] for g in params.split(";")]
    i = 0
    while i < len(groups):
        g = groups[i]
        p = g[0] if g[0] is not None else 0
        if p in (38, 48, 58):
            if len(g) > 1:  # colon form: 38:5:N or 38:2:[cs]:R:G:B
                sub = g[1:]
                colour = None
                if sub and sub[0] == 5 and len(sub) >= 2 and sub[1] is not None:
                    colour = colour256(sub[1] % 256)
                elif sub and sub[0] == 2:
                    rgb = [x or 0 for x in sub[1:]][-3:]
                    if len(rgb) == 3:
                        colour = tuple(min(255, v) for v in rgb)
            else:  # semicolon form
                colour = None
                kind = groups[i + 1][0] if i + 1 < len(groups) else None
                if kind == 5 and i + 2 < len(groups):
                    colour = colour256((groups[i + 2][0] or 0) % 256)
                    i += 2
                elif kind == 2 and i + 4 < len(groups):
                    colour = tuple(min(255, groups[i + k][0] or 0) for k in (2, 3, 4))
                    i += 4
                else:
                    i += 1
            if p == 38:
                attr.fg = colour
            elif p == 48:
                attr.bg = colour
        elif p == 0:
            attr.reset()
        elif p == 1:
            attr.bold = True
        elif p == 2:
            attr.dim = True
        elif p == 3:
            attr.italic = True
        elif p == 4:
            attr.underline = not (len(g) > 1 and g[1] == 0)
        elif p == 7:
            attr.reverse = True
        elif p == 8:
            attr.invisible = True
        elif p == 9:
            attr.strike = True
        elif p == 21:
            attr.underline = True  # doubly underlined: drawn single
        elif p == 22:
            attr.bold = attr.dim = False
        elif p == 23:
            attr.italic = False
        elif p == 24:
            attr.underline = False
        elif p == 27:
            attr.reverse = False
        elif p == 28:
            attr.invisible = False
        elif p == 29:
            attr.strike = False
        elif 30 <= p <= 37:
            attr.fg = PALETTE16[p - 30]
        elif p == 39:
            attr.fg = None
        elif 40 <= p <= 47:
            attr.bg = PALETTE16[p - 40]
        elif p == 49:
            attr.bg = None
        elif 90 <= p <= 97:
            attr.fg = PALETTE16[p - 90 + 8]
        elif 100 <= p <= 107:
            attr.bg = PALETTE16[p - 100 + 8]
        i += 1


ESCAPE = re.compile(r"\x1b(?:\[([0-9;:?<=>]*)([ -/]*[@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def char_width(ch):
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf") or 0xFE00 <= ord(ch) <= 0xFE0F:
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def parse(text, cols, rows):
    """Returns rows × cols cells: (text, Attr, width) with width 0 for the right half of a wide cell."""
    blank = Attr()
    grid = [[(" ", blank, 1) for _ in range(cols)] for _ in range(rows)]
    attr = Attr()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for y, line in enumerate(lines[:rows]):
        x = 0
        pos = 0
        while pos < len(line):
            m = ESCAPE.match(line, pos) if line[pos] == "\x1b" else None
            if m:
                if m.group(2) == "m":
                    apply_sgr(attr, m.group(1))
                pos = m.end()
                continue
            ch = line[pos]
            pos += 1
            if ch == "\r" or ch == "\x1b":
                continue
            if ch == "\t":
                x = min(cols, (x // 8 + 1) * 8)
                continue
            if ord(ch) < 0x20 or ord(ch) == 0x7F:
                continue
            w = char_width(ch)
            if w == 0:
                if x > 0:  # combining mark: joins the cell before (or the wide cell it belongs to)
                    px = x - 1 if grid[y][x - 1][2] != 0 else x - 2
                    t, a, cw = grid[y][px]
                    grid[y][px] = (t + ch, a, cw)
                continue
            if x + w > cols:
                break
            grid[y][x] = (ch, attr.copy(), w)
            if w == 2:
                grid[y][x + 1] = ("", attr.copy(), 0)
            x += w
    return grid


# Box drawing: (up, right, down, left) with 1 light, 2 heavy, 3 double.
BOX = {
    0x2500: (0, 1, 0, 1), 0x2501: (0, 2, 0, 2), 0x2502: (1, 0, 1, 0), 0x2503: (2, 0, 2, 0),
    0x250C: (0, 1, 1, 0), 0x250F: (0, 2, 2, 0), 0x2510: (0, 0, 1, 1), 0x2513: (0, 0, 2, 2),
    0x2514: (1, 1, 0, 0), 0x2517: (2, 2, 0, 0), 0x2518: (1, 0, 0, 1), 0x251B: (2, 0, 0, 2),
    0x251C: (1, 1, 1, 0), 0x2523: (2, 2, 2, 0), 0x2524: (1, 0, 1, 1), 0x252B: (2, 0, 2, 2),
    0x252C: (0, 1, 1, 1), 0x2533: (0, 2, 2, 2), 0x2534: (1, 1, 0, 1), 0x253B: (2, 2, 0, 2),
    0x253C: (1, 1, 1, 1), 0x254B: (2, 2, 2, 2),
    0x2550: (0, 3, 0, 3), 0x2551: (3, 0, 3, 0), 0x2554: (0, 3, 3, 0), 0x2557: (0, 0, 3, 3),
    0x255A: (3, 3, 0, 0), 0x255D: (3, 0, 0, 3), 0x2560: (3, 3, 3, 0), 0x2563: (3, 0, 3, 3),
    0x2566: (0, 3, 3, 3), 0x2569: (3, 3, 0, 3), 0x256C: (3, 3, 3, 3),
    0x256D: (0, 1, 1, 0), 0x256E: (0, 0, 1, 1), 0x256F: (1, 0, 0, 1), 0x2570: (1, 1, 0, 0),
    0x2574: (0, 0, 0, 1), 0x2575: (1, 0, 0, 0), 0x2576: (0, 1, 0, 0), 0x2577: (0, 0, 1, 0),
    0x2578: (0, 0, 0, 2), 0x2579: (2, 0, 0, 0), 0x257A: (0, 2, 0, 0), 0x257B: (0, 0, 2, 0),
}


class Renderer:
    def __init__(self, size):
        self.size = size
        self.fonts = {}
        for key, name in FONT_FILES.items():
            path = find_font(name)
            if path is None and key != (False, False):
                path = find_font(FONT_FILES[(key[0], False)]) or find_font(FONT_FILES[(False, False)])
            if path is None:
                sys.exit("ansi_to_png: DejaVu Sans Mono not found (Debian: apt-get install fonts-dejavu-core)")
            self.fonts[key] = ImageFont.truetype(path, size)
        regular = self.fonts[(False, False)]
        self.cw = round(regular.getlength("M"))
        ascent, descent = regular.getmetrics()
        self.ch = round((ascent + descent) * 1.1)
        self.baseline = (self.ch - (ascent + descent)) // 2 + ascent
        self.light = max(1, round(self.cw / 9))
        self.heavy = self.light * 2 + 1
        self.fallbacks = {}
        self.shrunk = {}
        self.notdef = {}

    def has_glyph(self, font, ch):
        if font not in self.notdef:
            self.notdef[font] = ink(font, "\U0010FFFD")
        return ch.isspace() or ink(font, ch) != self.notdef[font]

    def font_for(self, ch, bold, italic):
        key = (ch[0], bold, italic)
        if key not in self.fallbacks:
            font = self.fonts[(bold, italic)]
            if not self.has_glyph(font, ch[0]):
                font = fallback_font(ch[0], self.size)
            self.fallbacks[key] = font
        return self.fallbacks[key]

    def render(self, grid, out):
        rows, cols = len(grid), len(grid[0])
        img = Image.new("RGB", (cols * self.cw + 2 * PADDING, rows * self.ch + 2 * PADDING), DEFAULT_BG)
        draw = ImageDraw.Draw(img)
        for y, row in enumerate(grid):
            for x, (text, a, w) in enumerate(row):
                if w == 0:
                    continue
                fg, bg = a.fg or DEFAULT_FG, a.bg or DEFAULT_BG
                if a.reverse:
                    fg, bg = bg, fg
                if a.dim:
                    fg = blend(fg, bg, 0.55)
                if a.invisible:
                    fg = bg
                x0, y0 = PADDING + x * self.cw, PADDING + y * self.ch
                x1, y1 = x0 + w * self.cw, y0 + self.ch
                if bg != DEFAULT_BG:
                    draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=bg)
                if text.strip():
                    code = ord(text[0])
                    if code in BOX:
                        self.box(draw, BOX[code], x0, y0, fg)
                    elif 0x2580 <= code <= 0x259F and self.block(draw, code, x0, y0, fg, bg):
                        pass
                    else:
                        self.glyph(draw, text, x0, y0, w, fg, a)
                if a.underline:
                    uy = y0 + self.baseline + max(1, self.size // 10)
                    draw.rectangle([x0, uy, x1 - 1, uy + self.light - 1], fill=fg)
                if a.strike:
                    sy = y0 + self.baseline - self.size // 3
                    draw.rectangle([x0, sy, x1 - 1, sy + self.light - 1], fill=fg)
        img.save(out, optimize=True)

    def glyph(self, draw, text, x0, y0, w, fg, a):
        font = self.font_for(text, a.bold, a.italic)
        if font is None:  # no font has it: an empty box the width of the cell(s)
            m = max(2, self.cw // 5)
            draw.rectangle([x0 + m, y0 + m + 1, x0 + w * self.cw - m - 1, y0 + self.ch - m - 2], outline=fg)
            return
        width = font.getlength(text)
        if width > w * self.cw * 1.05 and font is not self.fonts[(a.bold, a.italic)]:
            # A fallback glyph wider than its cell(s): a smaller size of that font, cached.
            key = (font.path, font.index, w)
            if key not in self.shrunk:
                self.shrunk[key] = ImageFont.truetype(font.path, max(6, int(font.size * w * self.cw / width)),
                                                      index=font.index)
            font = self.shrunk[key]
            width = font.getlength(text)
        dx = (w * self.cw - width) / 2 if width > w * self.cw or w == 2 else 0
        draw.text((x0 + dx, y0 + self.baseline), text, font=font, fill=fg, anchor="ls")

    def box(self, draw, arms, x0, y0, fg):
        cx, cy = x0 + self.cw // 2, y0 + self.ch // 2
        x1, y1 = x0 + self.cw - 1, y0 + self.ch - 1
        gap = self.light + 1
        up, right, down, left = arms
        for i, weight in enumerate(arms):
            if weight == 0:
                continue
            t = self.heavy if weight == 2 else self.light
            for off in ([-gap, gap] if weight == 3 else [0]):
                lo = -(t // 2) + off
                hi = lo + t - 1
                if weight == 3:
                    # A double rail stops at the inner rail of a perpendicular arm on its side,
                    # runs on to the outer rail when that arm is on the other side only.
                    same, other = ((up, down) if off < 0 else (down, up)) if i in (1, 3) else \
                                  ((left, right) if off < 0 else (right, left))
                    start = gap if same else (-gap - t // 2 if other else 0)
                else:
                    start = -(self.heavy // 2)  # covers the width of a crossing line
                if i == 0:
                    draw.rectangle([cx + lo, y0, cx + hi, cy - start], fill=fg)
                elif i == 2:
                    draw.rectangle([cx + lo, cy + start, cx + hi, y1], fill=fg)
                elif i == 1:
                    draw.rectangle([cx + start, cy + lo, x1, cy + hi], fill=fg)
                else:
                    draw.rectangle([x0, cy + lo, cx - start, cy + hi], fill=fg)

    def block(self, draw, code, x0, y0, fg, bg):
        cw, ch = self.cw, self.ch
        x1, y1 = x0 + cw - 1, y0 + ch - 1
        if code == 0x2580:
            draw.rectangle([x0, y0, x1, y0 + ch // 2 - 1], fill=fg)
        elif 0x2581 <= code <= 0x2588:
            n = code - 0x2580
            draw.rectangle([x0, y1 - ch * n // 8 + 1, x1, y1], fill=fg)
        elif 0x2589 <= code <= 0x258F:
            n = 0x2590 - code
            draw.rectangle([x0, y0, x0 + cw * n // 8 - 1, y1], fill=fg)
        elif code == 0x2590:
            draw.rectangle([x0 + cw // 2, y0, x1, y1], fill=fg)
        elif 0x2591 <= code <= 0x2593:
            draw.rectangle([x0, y0, x1, y1], fill=blend(fg, bg, 0.25 * (code - 0x2590)))
        elif code == 0x2594:
            draw.rectangle([x0, y0, x1, y0 + ch // 8 - 1], fill=fg)
        elif code == 0x2595:
            draw.rectangle([x1 - cw // 8 + 1, y0, x1, y1], fill=fg)
        else:
            return False
        return True


def blend(fg, bg, amount):
    """amount of fg over bg (0..1)."""
    return tuple(round(f * amount + b * (1 - amount)) for f, b in zip(fg, bg))


def find_font(name):
    for d in FONT_DIRS:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    try:
        p = subprocess.run(["fc-match", "-f", "%{file}", name.rsplit(".", 1)[0].replace("-", ":style=")],
                           capture_output=True, text=True, timeout=10).stdout.strip()
        if p.endswith(name):
            return p
    except (OSError, subprocess.SubprocessError):
        pass
    return None


def fallback_font(ch, size):
    """A font with a glyph for ch (fontconfig's choice), or None."""
    try:
        p = subprocess.run(["fc-match", "-f", "%{file}", ":charset=%x" % ord(ch)],
                           capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not p or not os.path.exists(p):
        return None
    try:
        font = ImageFont.truetype(p, size)
    except OSError:
        return None
    return font if ink(font, ch) != ink(font, "\U0010FFFD") else None


def ink(font, ch):
    """The pixels of ch in font (to tell a real glyph from the font's missing-glyph box)."""
    size = font.size * 3
    img = Image.new("L", (size, size))
    ImageDraw.Draw(img).text((size // 3, size // 3), ch, font=font, fill=255)
    return img.tobytes()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cols", type=int, required=True)
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--font-size", type=int, default=15)
    ap.add_argument("pairs", nargs="+", metavar="IN.ans OUT.png")
    args = ap.parse_args()
    if len(args.pairs) % 2:
        ap.error("give IN and OUT in pairs")
    r = Renderer(args.font_size)
    for src, dst in zip(args.pairs[::2], args.pairs[1::2]):
        with open(src, encoding="utf-8", errors="replace") as f:
            grid = parse(f.read(), args.cols, args.rows)
        r.render(grid, dst)
        print("wrote %s (%d×%d cells)" % (dst, args.cols, args.rows))


if __name__ == "__main__":
    main()
