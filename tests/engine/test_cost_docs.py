"""Every cost figure the README and the model card quote is what ``omfa bench flops`` prints.

The docs write each figure as a comment after the command that prints it
(``omfa bench flops ARGS   # ... 432.5 TFLOP ... 0.31x``); every decimal number of the comment must appear
in that command's output, so a changed count, layout or plan makes this fail until the docs follow.
"""
import re
import shlex
from pathlib import Path

import pytest

from engine import cli

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "README.md", ROOT / "resources" / "models" / "demo" / "README.md")
NUMBER = re.compile(r"\d+\.\d+x?")


def _quoted() -> list[tuple[str, list[str], list[str]]]:
    out = []
    for doc in DOCS:
        for line in doc.read_text().splitlines():
            m = re.search(r"omfa bench flops([^#`]*)#(.*)", line)
            if m:
                out.append((f"{doc.relative_to(ROOT)}: {line.strip()[:60]}", shlex.split(m.group(1).replace("\\", " ")),
                            NUMBER.findall(m.group(2))))
    return out


QUOTED = _quoted()


def test_the_docs_quote_the_cost_commands():
    assert len(QUOTED) >= 8 and all(numbers for _, _, numbers in QUOTED)
    assert {where.split(":")[0] for where, _, _ in QUOTED} == {str(d.relative_to(ROOT)) for d in DOCS}


@pytest.mark.parametrize("where,argv,numbers", QUOTED, ids=[q[0] for q in QUOTED])
def test_each_quoted_figure_is_what_the_command_prints(where, argv, numbers, capsys):
    assert cli.main(["bench", "flops", *argv]) == 0
    out = capsys.readouterr().out
    missing = [n for n in numbers if n not in out]
    assert not missing, f"{where}: {missing} not in\n{out}"
