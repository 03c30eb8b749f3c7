"""A short Y4M video of a QR code, for Chromium's fake camera (``--use-file-for-fake-video-capture``).

The frames show the QR (drawn from segno's module matrix, no image library needed) on a
white page, slightly shifted from frame to frame like a hand-held phone.
"""

from __future__ import annotations

from pathlib import Path

import segno

WIDTH, HEIGHT, FRAMES = 640, 480, 12


def write_qr_video(text: str, path: Path) -> Path:
    matrix = [list(row) for row in segno.make(text, error="m", micro=False).matrix]
    modules = len(matrix) + 8  # with the quiet zone
    scale = min(WIDTH, HEIGHT) * 9 // 10 // modules
    size = modules * scale
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F15:1 Ip A1:1 C420jpeg\n".encode()
    chroma = bytes([128]) * ((WIDTH // 2) * (HEIGHT // 2))
    with path.open("wb") as out:
        out.write(header)
        for frame in range(FRAMES):
            dx, dy = (frame % 3) - 1, (frame % 2)
            left, top = (WIDTH - size) // 2 + dx * 2, (HEIGHT - size) // 2 + dy * 2
            luma = bytearray([235]) * (WIDTH * HEIGHT)
            for my, row in enumerate(matrix):
                for mx, dark in enumerate(row):
                    if not dark:
                        continue
                    x0 = left + (mx + 4) * scale
                    for y in range(top + (my + 4) * scale, top + (my + 5) * scale):
                        luma[y * WIDTH + x0 : y * WIDTH + x0 + scale] = bytes([16]) * scale
            out.write(b"FRAME\n" + bytes(luma) + chroma + chroma)
    return path
