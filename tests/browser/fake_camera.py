"""A fake camera for Chromium: turn a QR code image into a Y4M video that `getUserMedia` plays in a loop.

Chromium started with `--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE.y4m`
(and `--use-fake-ui-for-media-stream` to grant the permission) offers FILE as the only camera. A Y4M file
is a one-line text header, then per frame `FRAME` and a newline followed by the Y plane (the greyscale
picture, one byte a pixel) and the two quarter-size chroma planes (128 everywhere: no colour).
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

QUIET_MODULES = 4  # the quiet zone the QR standard asks for around the symbol
TARGET_SIDE = 400  # the QR with its quiet zone fills about this many pixels of the frame
FINDER_MODULES = 7  # a finder pattern is 7 modules wide: its top edge gives the module size


def _module_grid(symbol: Image.Image) -> Image.Image | None:
    """The symbol reduced to one pixel per module, when it is a clean rendering (square cells of a whole
    number of pixels, as a canvas or a PNG export draws them); None when the module size is not clear."""
    width, height = symbol.size
    pixels = symbol.load()
    assert pixels is not None
    run = 0
    while run < width and pixels[run, 0] == 0:
        run += 1
    cell = run / FINDER_MODULES
    if cell < 1:
        return None
    modules = round(width / cell)
    # QR versions 1-40 have 21, 25, ... 177 modules a side.
    if not 21 <= modules <= 177 or modules % 4 != 1 or abs(height - width) > cell:
        return None
    return symbol.resize((modules, modules), Image.Resampling.NEAREST)


def qr_frame(png_bytes: bytes, size: int = 480) -> Image.Image:
    """A size×size greyscale frame: the QR (black on white) scaled up sharply and centred with a wide
    white margin, as a phone camera held over the code would see it."""
    image: Image.Image = Image.open(io.BytesIO(png_bytes))
    if image.mode in ("RGBA", "LA", "P"):  # a transparent background counts as white paper
        image = image.convert("RGBA")
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image)
    grey = image.convert("L").point(lambda v: 0 if v < 128 else 255)
    box = ImageOps.invert(grey).getbbox()  # the dark part: the symbol without its quiet zone
    if box is None:
        raise ValueError("the image holds no dark modules: not a QR code")
    symbol = grey.crop(box)
    grid = _module_grid(symbol) or symbol
    quiet = QUIET_MODULES if grid is not symbol else max(QUIET_MODULES, symbol.width // 6)
    side = grid.width + 2 * quiet
    padded = Image.new("L", (side, side), 255)
    padded.paste(grid, (quiet, quiet))
    scale = max(1, min(TARGET_SIDE, size) // side)
    scaled = padded.resize((side * scale, side * scale), Image.Resampling.NEAREST)
    if scaled.width > size:
        scaled = padded.resize((size, size), Image.Resampling.NEAREST)
    frame = Image.new("L", (size, size), 255)
    offset = (size - scaled.width) // 2
    frame.paste(scaled, (offset, offset))
    return frame


def qr_png_to_y4m(png_bytes: bytes, out_path: Path | str, size: int = 480, frames: int = 20) -> Path:
    """Write a Y4M video of `frames` identical frames (10 per second) showing the QR in `png_bytes`."""
    if size <= 0 or size % 2:
        raise ValueError("the frame size must be a positive even number (4:2:0 chroma is half size)")
    if frames < 1:
        raise ValueError("at least one frame")
    frame = qr_frame(png_bytes, size)
    luma = frame.tobytes()
    assert len(luma) == size * size
    chroma = bytes([128]) * ((size // 2) * (size // 2))
    path = Path(out_path)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(luma)
            out.write(chroma)
            out.write(chroma)
    return path
