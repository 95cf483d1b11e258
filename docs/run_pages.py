"""Run the code of the docs pages and check what it prints: the docs can never go stale.

The rules every page in docs/ follows (tests/test_docs.py enforces them):

- Every ```python block runs. The blocks of one page run in order, in one namespace (later
  blocks use earlier names), in a fresh temporary working directory. A file a block writes
  under `figures/` is a picture the page shows; `make_figures.py` collects them.
- A ```text block right after a python block (only blank lines between) is what that block
  prints. It must match the real output line by line (trailing spaces and blank lines at the
  ends are ignored). Two tolerances: `…` in an expected line matches any text within that
  line, for what truly varies from run to run (timings); and a decimal number matches one
  within 1e-5 of it relatively or 1e-6 of the largest number of its line (the spaces numpy pads
  an array's columns with, and where it wraps the array, may differ then), for what varies
  from CPU to CPU: numpy's float32 exp, tanh and sums take other SIMD paths on another
  processor and round the last bits otherwise, so 0.49813148 on one machine prints as 0.4981315
  on the next. Integers and all other text must match exactly. And a path into this checkout
  is printed relative to it ("/home/you/minigrad/attention/cells.py" as "attention/cells.py"),
  as it would be for code run from the repository's root, and a path into the temporary
  working directory relative to that. A block that prints must be followed by its text block.
  (A ```text block anywhere else is only shown, like the blocks below.)
- A python block whose first line is `# file: NAME` is a script the page runs itself (say,
  under pdb in a subprocess): it is written to NAME in the working directory, and checked to
  compile, instead of being run in the page's namespace.
- Other blocks (```bash, ```json, ```console, …) are shown, not run; ```json blocks must parse.

The code of a block is compiled with the page's file name and its real line numbers, so a
traceback, `Tensor.source`, `mg.trace` and the graph's tooltips say "seed.md:57" for line
57 of docs/seed.md.

    python docs/run_pages.py                  run every page, report every mismatch
    python docs/run_pages.py docs/seed.md     one page
    python docs/run_pages.py --update ...     rewrite the text blocks with the real output
                                              (then read the diff before committing it)
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import json
import os
import re
import sys
import tempfile
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
WILDCARD = "…"
SCRIPT = re.compile(r"^#\s*file:\s*(?P<name>[\w./-]+)\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>```+)\s*(?P<lang>[\w+-]*)\s*$")


@dataclass
class Block:
    lang: str
    fence_line: int        # 1-based line of the opening ```
    code_line: int         # 1-based line of the first line inside the block
    end_line: int          # 1-based line of the closing ```
    text: str
    output: "Block | None" = None  # the ```text block that shows what a python block prints


@dataclass
class BlockResult:
    block: Block
    printed: str
    error: str | None = None


@dataclass
class PageResult:
    page: Path
    workdir: Path
    results: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # messages naming the page and the line

    @property
    def ok(self) -> bool:
        return not self.problems


def parse(markdown: str) -> list[Block]:
    """The fenced blocks of a page, each python block linked to the text block after it."""
    lines = markdown.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        j = i + 1
        while j < len(lines) and lines[j].strip() != fence:
            j += 1
        if j == len(lines):
            raise ValueError(f"line {i + 1}: the ``` block is never closed")
        body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[i + 1:j]]
        blocks.append(Block(opening["lang"].lower(), i + 1, i + 2, j + 1, "\n".join(body)))
        i = j + 1
    for before, after in zip(blocks, blocks[1:]):
        between = lines[before.end_line:after.fence_line - 1]
        if before.lang == "python" and after.lang == "text" and not "".join(between).strip():
            before.output = after
    return blocks


def normalise(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def line_matches(expected: str, actual: str) -> bool:
    if WILDCARD not in expected:
        return expected == actual or numbers_match(expected, actual)
    pattern = ".*".join(re.escape(part) for part in expected.split(WILDCARD))
    return re.fullmatch(pattern, actual) is not None


# a decimal number: digits with a point, an exponent or both (integers are left to match exactly)
DECIMAL = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+(?=[eE]))(?:[eE][-+]?\d+)?(?![\w.])")


def numbers_match(expected: str, actual: str) -> bool:
    """The same text around the decimal numbers, and each number within 1e-5 of the expected one
    relatively or 1e-6 of the line's largest. Spaces do not count beside brackets and commas,
    and a run of them counts as one: numpy pads an array's columns to its longest number."""
    def split(text: str) -> tuple[list[str], list[float]]:
        parts = [re.sub(r"\s+", " ", re.sub(r"\s*([][(),])\s*", r"\1", part)) for part in DECIMAL.split(text)]
        return parts, [float(number) for number in DECIMAL.findall(text)]
    (want_text, want), (got_text, got) = split(expected), split(actual)
    if not want or want_text != got_text or len(want) != len(got):
        return False
    scale = max(map(abs, want))
    return all(abs(w - g) <= max(1e-5 * abs(w), 1e-6 * scale) for w, g in zip(want, got))


def output_matches(expected: str, actual: str) -> bool:
    want, got = normalise(expected), normalise(actual)
    if len(want) == len(got) and all(line_matches(w, g) for w, g in zip(want, got)):
        return True
    # a number printed longer can wrap an array onto another line: then compare the whole block
    return not any(WILDCARD in line for line in want) and numbers_match(" ".join(want), " ".join(got))


@contextlib.contextmanager
def _isolated(workdir: Path):
    """Run a page in `workdir` and put back what a page may change: cwd, numpy's print
    options, warning filters, sys.path."""
    import numpy as np
    cwd, options, path = os.getcwd(), np.get_printoptions(), list(sys.path)
    os.chdir(workdir)
    try:
        with warnings.catch_warnings():
            yield
    finally:
        os.chdir(cwd)
        np.set_printoptions(**options)
        sys.path[:] = path


def run_page(page: Path, workdir: Path | None = None) -> PageResult:
    """Run every python block of `page` in order; stop at the first block that raises."""
    page = Path(page).resolve()
    where = page.relative_to(ROOT) if page.is_relative_to(ROOT) else page
    blocks = parse(page.read_text(encoding="utf-8"))
    workdir = Path(workdir or tempfile.mkdtemp(prefix=f"docs_{page.stem}_"))
    workdir.mkdir(parents=True, exist_ok=True)
    result = PageResult(page, workdir)
    for block in blocks:
        if block.lang == "json":
            try:
                json.loads(block.text)
            except ValueError as error:
                result.problems.append(f"{where}:{block.fence_line}: the json block does not parse: {error}")
    namespace = {"__name__": f"docs_{page.stem}"}
    with _isolated(workdir):
        for block in (b for b in blocks if b.lang == "python"):
            printed, error = _run_block(block, page.name, namespace, workdir)
            result.results.append(BlockResult(block, printed, error))
            if error is not None:
                result.problems.append(f"{where}: the python block at line {block.fence_line} "
                                       f"raised:\n{error}")
                break
            problem = _check_output(block, printed)
            if problem:
                result.problems.append(f"{where}: the python block at line {block.fence_line} "
                                       + problem)
    return result


def _run_block(block: Block, filename: str, namespace: dict, workdir: Path) -> tuple[str, str | None]:
    code = "\n" * (block.code_line - 1) + block.text  # so line numbers are the page's
    script = SCRIPT.match(block.text.split("\n", 1)[0])
    buffer = io.StringIO()
    try:
        if script:
            compile(code, filename, "exec")
            (workdir / script["name"]).write_text(block.text + "\n", encoding="utf-8")
            return "", None
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, filename, "exec"), namespace)
    except BaseException as error:  # noqa: BLE001  (a page may raise anything; report it)
        if isinstance(error, KeyboardInterrupt):
            raise
        frames = traceback.extract_tb(error.__traceback__)[1:]  # drop this function's frame
        text = "".join(traceback.format_list(frames) + traceback.format_exception_only(error))
        return relative_paths(buffer.getvalue(), workdir), text
    return relative_paths(buffer.getvalue(), workdir), None


def relative_paths(text: str, workdir: Path | None = None) -> str:
    """Paths into this checkout written relative to its root, wherever the checkout is, and
    paths into the page's working directory relative to it."""
    prefixes = {str(ROOT)}
    if workdir is not None:
        prefixes |= {str(workdir), os.path.realpath(workdir)}
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix + os.sep, "")
    return text


def _check_output(block: Block, printed: str) -> str | None:
    if block.output is None:
        if normalise(printed):
            return ("prints output but no ```text block follows it; it printed:\n" + printed)
        return None
    if not normalise(printed):
        return f"prints nothing, but the text block at line {block.output.fence_line} shows output"
    if output_matches(block.output.text, printed):
        return None
    diff = difflib.unified_diff(normalise(block.output.text), normalise(printed),
                                f"text block at line {block.output.fence_line}", "printed", lineterm="")
    return "printed something else than its text block shows:\n" + "\n".join(diff)


def update(page: Path, result: PageResult) -> bool:
    """Rewrite the text blocks of `page` that do not match what their block printed (and add
    the missing ones). Returns True if the file changed."""
    page = Path(page)
    lines = page.read_text(encoding="utf-8").split("\n")
    edits = []  # (first line index, end line index exclusive, replacement lines)
    for outcome in result.results:
        block, printed = outcome.block, normalise(outcome.printed)
        if outcome.error is not None:
            break
        if block.output is not None:
            if printed and not output_matches(block.output.text, outcome.printed):
                edits.append((block.output.code_line - 1, block.output.end_line - 1, printed))
        elif printed:
            edits.append((block.end_line, block.end_line, ["", "```text", *printed, "```"]))
    for start, end, replacement in sorted(edits, reverse=True):
        lines[start:end] = replacement
    if edits:
        page.write_text("\n".join(lines), encoding="utf-8")
    return bool(edits)


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("pages", nargs="*", type=Path, help="pages to run (default: docs/*.md)")
    parser.add_argument("--update", action="store_true", help="rewrite text blocks with the real output")
    args = parser.parse_args(argv)
    failed = 0
    for page in args.pages or pages():
        result = run_page(page)
        for _ in range(3):  # new output can move the lines below it: repeat until it settles
            if not (args.update and update(page, result)):
                break
            print(f"updated {page}")
            result = run_page(page)
        for problem in result.problems:
            print(problem, end="\n\n")
        failed += not result.ok
        print(f"{page}: {'ok' if result.ok else 'FAILED'} ({len(result.results)} python blocks)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
