"""The command line's checks of what the user typed or pointed at, made before any work.

Each refusal is a UsageError: one line that names the option, what is wrong and what would
fit; `python -m attention` prints it and exits with status 2, never with a traceback.
"""
from __future__ import annotations

import codecs
import os

from attention.config import SettingError
from attention.data.spellings import clean as clean_date


COMMON_FORMATS = ("png", "svg", "pdf", "jpg")  # named first when a file name's format is refused


class UsageError(Exception):
    """A mistake in what the user typed or pointed at: reported in one line, no traceback."""


def option_error(error: ValueError) -> UsageError:
    """A config's complaint about a field, reworded to name the option the user typed."""
    if isinstance(error, SettingError):
        option = "--" + error.field.replace("_", "-")
        accepts = error.accepts.removesuffix(" (or none)")  # leaving an option out is the "none"
        return UsageError(f"{option} must be {accepts}, got {error.value!r}")
    return UsageError(str(error))


def check_texts(texts, clean=clean_date) -> None:
    """Refuse a text that is empty once cleaned as the model reads it (case, commas, spaces)."""
    for text in texts:
        if not clean(text).strip():
            raise UsageError(f"cannot translate {text!r}: it is empty once commas, spaces and final "
                             "punctuation are dropped; give a date such as '3 may 1979'")


def check_output_file(path: str, option: str, formats, default: str | None = None) -> str:
    """The format (extension without the dot) `path` asks for, if it is one of `formats` and
    `path` can be written: its directory exists and it is not itself a directory."""
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory; give a file name such as "
                         f"{os.path.join(path, 'out.' + (default or ('png' if 'png' in formats else min(formats))))}")
    extension = os.path.splitext(path)[1].lstrip(".").lower()
    if not extension and default:
        extension = default
    if extension not in formats:
        named = [name for name in COMMON_FORMATS if name in formats] or sorted(formats)[:4]
        others = len(formats) - len(named)
        problem = f"'.{extension}' is not a format it can write" if extension else "has no extension"
        raise UsageError(f"{option} {path}: {problem}; end the name with " + " or ".join("." + name for name in named)
                         + (f" (or another of the {others} other formats it knows)" if others else ""))
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path}: the directory {directory} does not exist; create it first "
                         "or write somewhere else")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"{option} {path}: the directory {directory} is not writable; write somewhere else")
    return extension


def heatmap_formats() -> set[str]:
    """The image formats matplotlib can write (png, pdf, svg, …); a UsageError without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UsageError("--heatmap needs matplotlib: pip install matplotlib "
                         "(or pip install -e \".[plots]\")") from None
    return set(Figure().canvas.get_supported_filetypes())


def read_text_lines(path: str, option: str) -> list[str]:
    """The lines of a UTF-8 text file (a UTF-8 byte-order mark is allowed; line ends dropped),
    or a UsageError saying why the file cannot be read as text."""
    if not os.path.exists(path):
        raise UsageError(f"{option} {path}: no such file; give the path of an existing file")
    if os.path.isdir(path):
        raise UsageError(f"{option} {path} is a directory; give a file of lines")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise UsageError(f"{option} {path} cannot be read: {error.strerror}") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) \
            and not data.startswith(codecs.BOM_UTF8):
        raise UsageError(f"{option} {path} is UTF-16 or UTF-32 text; save it as UTF-8 and try again")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"{option} {path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                         f"{error.start}); save it as UTF-8 and try again") from None
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
