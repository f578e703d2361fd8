"""Write the shipped sample inputs (resources/samples/) from the synthetic world's held-out test split.

    python -m engine.data.samples [--count 8]

Each sample ``demo_NNN`` gives ``_person.png`` (a try-off input), ``_garment.png`` (ground truth flat
garment, and a try-on input), ``_head.png``, ``_guide.png`` (guide of the person photo), ``_guide_b.png`` and
``_person_b.png`` (a second pose: try-on target and its ground truth).
"""
from __future__ import annotations

import argparse
import json

from PIL import Image

from engine.paths import SAMPLES

KINDS = ("person", "garment", "head", "guide", "guide_b", "person_b")


def write_samples(count: int = 8, folder=SAMPLES, seed: int = 0) -> list[str]:
    from engine.data.garments import WORLD_VERSION
    from engine.data.synthetic import SyntheticWorld

    folder.mkdir(parents=True, exist_ok=True)
    world = SyntheticWorld(seed=seed)
    names = []
    index = []
    for i in range(count):
        s = world.sample(i, "test")
        name = f"demo_{i:03d}"
        for kind in KINDS:
            Image.fromarray(getattr(s, kind)).save(folder / f"{name}_{kind}.png", optimize=True)
        index.append({"name": name, "split": "test", "index": i, "garment": s.meta["garment"],
                      "head": s.meta["head"]})
        names.append(name)
    (folder / "samples.json").write_text(json.dumps(
        {"about": "Held-out test-split samples of OMFA's synthetic mannequin world (never seen in training).",
         "world_version": WORLD_VERSION, "samples": index}, indent=1))
    world.close()
    return names


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=8)
    args = ap.parse_args(argv)
    names = write_samples(args.count)
    print(f"wrote {len(names)} samples to {SAMPLES}")


if __name__ == "__main__":
    main()
