"""Open data files for reading: regular files only.

Reading a named pipe waits forever for a writer, and a link to `/dev/zero`
or `/dev/urandom` never ends, so a data file that is not a regular file
(after following links) is refused by name before a byte is read. The file
is opened without blocking and checked again on the open descriptor, so what
is read is what was checked.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from cnnctl.errors import CnnctlError, Problem

KINDS = {
    stat.S_ISFIFO: "a named pipe (FIFO)",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
    stat.S_ISDIR: "a folder",
}


def open_regular(path: str) -> BinaryIO:
    """`path` opened for binary reading, or a `CnnctlError` if it is not a regular file.

    Raises:
        CnnctlError: `path` (or what it links to) is a pipe, device, socket or folder.
        OSError: as `open` does (FileNotFoundError, PermissionError, ...): callers say what they expected.

    Example:

    ```python
    with open_regular("data/train-images-idx3-ubyte") as f:
        magic = f.read(4)
    ```
    """
    check_regular(path, os.stat(path).st_mode)  # before opening: opening a device can have effects
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        check_regular(path, os.fstat(fd).st_mode)  # the file opened is the file checked
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: str, mode: int | None = None) -> None:
    """Refuse `path` unless it is a regular file (links followed); `mode` saves a `stat` already made."""
    mode = os.stat(path).st_mode if mode is None else mode
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in KINDS.items() if test(mode)), "not a regular file")
    via = f"a link to {os.path.realpath(path)}, " if os.path.islink(path) else ""
    raise CnnctlError(Problem(f"{via}{kind}, not a regular file", file=path,
                              hint="data is read from regular files only; copy the data into a file"))
