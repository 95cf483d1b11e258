"""Solution blocks: whole-line `# BEGIN SOLUTION <id>` … `# END SOLUTION` comments in function bodies.

A block lies inside one function, after its docstring, so that replacing it by a `raise`
leaves the `def` line, the signature and the docstring for the student.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from coursework.manifest import CourseworkError

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<task>\S+)[ \t]*$")
END = re.compile(r"^(?P<indent>[ \t]*)# END SOLUTION[ \t]*$")
NEAR_MISS = re.compile(r"(BEGIN|END) SOLUTION")


@dataclass(frozen=True)
class Block:
    file: str      # relative to the project's root
    task: str
    begin: int     # line number (1-based) of the BEGIN comment
    end: int       # line number of the END comment
    indent: str

    def where(self) -> str:
        return f"{self.file}:{self.begin}"


@dataclass(frozen=True)
class _Open:
    start: int
    task: str
    indent: str


def find_blocks(root: Path, file: str) -> list:
    """The solution blocks of one file, checked: balanced, not nested, inside a function body."""
    lines = (root / file).read_text().splitlines()
    blocks, open_begin = [], None
    for number, line in enumerate(lines, start=1):
        begin, end = BEGIN.match(line), END.match(line)
        if begin:
            if open_begin is not None:
                raise CourseworkError(f"{file}:{number}: BEGIN SOLUTION inside the block opened at "
                                      f"line {open_begin.start}; blocks do not nest")
            open_begin = _Open(number, begin["task"], begin["indent"])
        elif end:
            if open_begin is None:
                raise CourseworkError(f"{file}:{number}: END SOLUTION without a BEGIN SOLUTION")
            if end["indent"] != open_begin.indent:
                raise CourseworkError(f"{file}:{number}: END SOLUTION is not indented like its "
                                      f"BEGIN SOLUTION at line {open_begin.start}")
            blocks.append(Block(file, open_begin.task, open_begin.start, number, open_begin.indent))
            open_begin = None
        elif NEAR_MISS.search(line) and line.lstrip().startswith("#"):
            raise CourseworkError(f"{file}:{number}: malformed marker {line.strip()!r}; write "
                                  "'# BEGIN SOLUTION <task-id>' or '# END SOLUTION' alone on the line")
    if open_begin is not None:
        raise CourseworkError(f"{file}:{open_begin.start}: BEGIN SOLUTION {open_begin.task} is never ended")
    _check_placement(root, file, lines, blocks)
    return blocks


def _check_placement(root: Path, file: str, lines: list, blocks: list) -> None:
    """Every block has code and sits in one function body, after the docstring."""
    tree = ast.parse("\n".join(lines), filename=str(root / file))
    functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for block in blocks:
        code = [n for n in range(block.begin + 1, block.end)
                if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#")]
        if not code:
            raise CourseworkError(f"{block.where()}: the block of task {block.task} holds no code")
        around = [f for f in functions if f.lineno < block.begin and f.end_lineno >= code[-1]]
        if not around:
            raise CourseworkError(f"{block.where()}: the block of task {block.task} is not inside "
                                  "a function body")
        function = max(around, key=lambda f: f.lineno)
        first = function.body[0]
        has_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
            and isinstance(first.value.value, str)
        if has_docstring and block.begin <= first.end_lineno:
            raise CourseworkError(f"{block.where()}: the block of task {block.task} must start "
                                  f"after the docstring of {function.name}()")


def stub_blocks(text: str, blocks: list, stubs: dict) -> str:
    """`text` with each block whose task is in `stubs` (task id → stub line) replaced by that line."""
    lines = text.splitlines(keepends=True)
    for block in sorted(blocks, key=lambda b: b.begin, reverse=True):
        if block.task in stubs:
            lines[block.begin - 1:block.end] = [f"{block.indent}{stubs[block.task]}\n"]
    return "".join(lines)
