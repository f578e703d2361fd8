"""Peak memory of reading a 79-megapixel PNG that compresses to a few hundred KB (engine.images.read_image).

Each reading runs in a fresh child process (peak RSS is per process); the number reported is the child's peak
RSS minus its RSS after importing engine.images, i.e. what the read itself costs.

    python benchmarks/bench_big_image.py [--engine-root DIR] [--out benchmarks/results/big_image.json]

``--engine-root`` reads with another checkout's engine (e.g. the code before the memory budget) for a
before/after comparison; the default is this checkout.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r"""
import json, resource, sys, time, inspect
import engine.images as images
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
kw = {} if sys.argv[2] == "default" else {"max_side": None if sys.argv[2] == "none" else int(sys.argv[2])}
if kw and "max_side" not in inspect.signature(images.read_image).parameters:
    print(json.dumps({"skipped": "this engine has no max_side"})); sys.exit()
try:
    read = images.read_image(sys.argv[1], **kw)
    shape, err = list(read.pixels.shape), ""
except images.ImageError as e:
    shape, err = None, str(e)
print(json.dumps({"peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024,
                  "seconds": time.perf_counter() - t, "shape": shape, "error": err}))
"""


def huge_flat_png(path: Path, width: int, height: int) -> int:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z = zlib.compressobj(9)
    row = b"\x00" + b"\x80" * (3 * width)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path.stat().st_size


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine-root", default=str(ROOT))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "big_image.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "huge.png"
        size = huge_flat_png(png, 10240, 7700)
        rows = []
        for max_side in ("default", "none", "1024"):
            env = {**os.environ, "PYTHONPATH": args.engine_root, "OMP_NUM_THREADS": "1"}
            r = subprocess.run([sys.executable, "-c", CHILD, str(png), max_side], capture_output=True, text=True,
                               env=env, cwd=args.engine_root)
            row = {"max_side": max_side, **json.loads(r.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(row)
    commit = subprocess.run(["git", "-C", args.engine_root, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    result = {"image": "10240x7700 RGB PNG (78.8 MP), flat grey", "file_bytes": size,
              "engine": f"{Path(args.engine_root).name} at {commit or 'an unknown commit'}", "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = json.loads(out.read_text()) if out.is_file() else {}
    existing[Path(args.engine_root).name] = result
    out.write_text(json.dumps(existing, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
