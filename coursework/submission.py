"""Taking a submission's files: only the graded tasks' files of the manifest, only regular files
(no symbolic links, devices, pipes, or hard links that could reach a file outside the
submission), at most LARGEST_FILE bytes each, and one line of the output for each refusal."""
from __future__ import annotations

import os
import stat
from pathlib import Path

LARGEST_FILE = 1 << 20    # bytes: a task file is a few kilobytes of Python
LOOKED_AT = 20_000        # entries of the submission searched for a file uploaded alone
SKIPPED_NAMES = {"__pycache__", "build", "dist", "runs", "node_modules", "site-packages"}


def take_files(submission: Path, files: list, tree: Path) -> list:
    """Copy each of `files` (relative paths) from `submission` onto `tree`. Returns a line for each
    file not taken, saying why (the tree keeps its stub for those)."""
    notes = []
    for file in files:
        found = _locate(submission, file)
        if isinstance(found, str):
            notes.append(found)
            continue
        data = _read_regular(submission, found)
        if isinstance(data, str):
            notes.append(data)
        else:
            (tree / file).write_bytes(data)
    return notes


def _locate(submission: Path, file: str):
    """The submitted copy of `file`, relative to `submission`: at its path in a submitted project,
    or, for files uploaded one by one, the only file of that name. A note (str) when there is none."""
    if os.path.lexists(submission / file):
        return Path(file)
    name, same_name, seen = Path(file).name, [], 0
    for folder, dirs, names in os.walk(submission):  # never follows a symbolic link to a folder
        seen += len(dirs) + len(names)
        if seen > LOOKED_AT:
            return f"{file} was not found: the submission has more than {LOOKED_AT} files and folders."
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_NAMES
                         and not d.endswith(".egg-info"))
        if name in names:
            same_name.append(Path(folder, name).relative_to(submission))
    if len(same_name) == 1:
        return same_name[0]
    if not same_name:
        return f"{file} is not in the submission, so its tasks keep the stub."
    return (f"{file}: the submission holds several files of that name "
            f"({', '.join(map(str, same_name))}); submit the project's layout.")


def _read_regular(submission: Path, relative: Path):
    """The bytes of a plain file, or a note saying why it was refused. Every folder on the way and the
    file itself are checked without following links, and the file is read from the descriptor checked."""
    where = submission
    for part in relative.parts[:-1]:
        where = where / part
        if not stat.S_ISDIR(os.lstat(where).st_mode):
            return f"refused {relative}: {where.relative_to(submission)} is a symbolic link or not a folder."
    path = submission / relative
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return f"refused {relative}: it is a symbolic link; submit the file itself."
    if not stat.S_ISREG(info.st_mode):
        return f"refused {relative}: it is not a regular file."
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return f"refused {relative}: it cannot be opened ({error.strerror})."
    with os.fdopen(descriptor, "rb") as handle:
        opened = os.fstat(handle.fileno())
        if (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino) or not stat.S_ISREG(opened.st_mode):
            return f"refused {relative}: it changed while it was read."
        if opened.st_nlink != 1:
            return f"refused {relative}: it has {opened.st_nlink} hard links; submit a plain copy."
        if opened.st_size > LARGEST_FILE:
            return f"refused {relative}: {opened.st_size} bytes, more than {LARGEST_FILE}."
        return handle.read(LARGEST_FILE + 1)[:LARGEST_FILE]
