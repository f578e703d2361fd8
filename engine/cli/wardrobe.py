"""``omfa wardrobe list | add | export | import``: the garments kept across sessions."""
from __future__ import annotations

import argparse
import json
import sys

from engine.cli.common import CliError


def register(sub) -> None:
    """``omfa wardrobe list | add | export | import`` (engine/wardrobe.py), all taking ``--root DIR``."""
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--root", default=argparse.SUPPRESS,
                      help="wardrobe folder (default: the user data folder's wardrobe/)")
    p = sub.add_parser("wardrobe", help="the garments kept across sessions: list, add, export, import")
    p.add_argument("--root", default=None, help=argparse.SUPPRESS)
    wsub = p.add_subparsers(dest="wardrobe", metavar="WHAT")
    w = wsub.add_parser("list", parents=[root], help="list the items, newest first")
    w.add_argument("--search", default="", help='words that must all appear in name, tags or source; "tag:X"')
    w.add_argument("--json", action="store_true", help="print the items as JSON")
    w = wsub.add_parser("add", parents=[root], help="keep an image file as a garment")
    w.add_argument("image", metavar="IMAGE")
    w.add_argument("--name", help="default: the source and the date")
    w.add_argument("--tag", action="append", default=[], help="a tag (repeat for more; commas split too)")
    w.add_argument("--source", help="where it came from (default: the file's name)")
    w = wsub.add_parser("export", parents=[root], help="write items to a folder (one subfolder each + an index)")
    w.add_argument("folder", metavar="DIR")
    w.add_argument("--search", default="", help="only the items this search finds (default: all)")
    w = wsub.add_parser("import", parents=[root], help="add the items of an exported folder (duplicates skipped)")
    w.add_argument("folder", metavar="DIR")
    p.set_defaults(func=cmd_wardrobe)


def cmd_wardrobe(args) -> int:
    from engine.images import ImageError, read_image
    from engine.persist import StorageError
    from engine.wardrobe import Wardrobe

    if not getattr(args, "wardrobe", None):
        raise CliError("omfa wardrobe needs one of: list, add, export, import", 2)
    wardrobe = Wardrobe(args.root)
    for note in wardrobe.load_notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        if args.wardrobe == "list":
            items = wardrobe.search(args.search)
            if args.json:
                print(json.dumps([{**i.info(), "garment": str(i.garment)} for i in items], indent=1))
            for i in [] if args.json else items:
                tags = f"  [{', '.join(i.tags)}]" if i.tags else ""
                print(f"{i.id}  {i.date_text()}  {i.name}{tags}  ({i.source or 'no source'})")
            if not args.json:
                print(f"{len(items)} of {len(wardrobe)} item(s) in {wardrobe.root}", file=sys.stderr)
        elif args.wardrobe == "add":
            from engine.export import read_png_metadata

            try:
                read = read_image(args.image)
            except ImageError as e:
                raise CliError(str(e)) from None
            for note in read.notes:
                print(f"note: {read.path.name}: {note}", file=sys.stderr)
            try:
                meta = read_png_metadata(args.image)   # an OMFA PNG brings the request that made it
            except ValueError:
                meta = None
            source = args.source if args.source is not None else f"file {read.path.name}"
            item = wardrobe.add(read.pixels, args.name, args.tag, source, meta)
            print(f"added {item.id}: {item.name} -> {item.folder}")
        elif args.wardrobe == "export":
            items = wardrobe.search(args.search)
            if not items:
                raise CliError(f"no wardrobe items match {args.search!r}" if args.search else
                               f"the wardrobe in {wardrobe.root} is empty: nothing to export")
            folder = wardrobe.export([i.id for i in items], args.folder)
            print(f"exported {len(items)} item(s) to {folder}")
        elif args.wardrobe == "import":
            added, notes = wardrobe.import_folder(args.folder)
            for note in notes:
                print(f"note: {note}", file=sys.stderr)
            print(f"imported {len(added)} item(s) into {wardrobe.root}")
    except (StorageError, ValueError) as e:  # ValueError: a folder that is not one, a non-empty target...
        raise CliError(str(e)) from None
    return 0


