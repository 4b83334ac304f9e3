"""One training run per folder: a second trainer pointed at the same --out-dir is refused.

Two runs in one folder would both write ckpt.npz and metrics.jsonl, each overwriting the other's
checkpoint and interleaving their rows. The first run holds an exclusive lock on OUT_DIR/.train.lock
for as long as it trains; the operating system releases it when the process ends, however it ends
(kill -9 included), so a crashed run never leaves a stale lock behind. The file itself stays (it
holds the last owner's process id, for the message): deleting a lock file while another process
waits on it would let two processes each hold a lock on a different file of the same name.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from ..utils.cli import UsageError

LOCK_NAME = ".train.lock"

if sys.platform == "win32":
    import msvcrt

    def try_lock(file: IO) -> bool:
        """Lock the file's first byte without waiting; False if another process holds it."""
        try:
            file.seek(0)
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
else:
    import fcntl

    def try_lock(file: IO) -> bool:
        """Lock the whole file without waiting; False if another open of it holds the lock."""
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False


@contextmanager
def exclusive_run(out_dir: Path) -> Iterator[None]:
    """Hold out_dir for one run. Creates the folder; raises UsageError if it cannot be written or
    another run holds it. If the run fails before writing anything, a folder created here is
    removed again, so a refused command leaves nothing behind."""
    created = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        lock_file = open(out_dir / LOCK_NAME, "a+", encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot write to --out-dir '{out_dir}' ({error.strerror or error}): "
                         "choose a folder you can write to") from None
    try:
        if not try_lock(lock_file):
            lock_file.seek(0)
            owner = lock_file.read().strip() or "unknown"
            raise UsageError(f"another training run (process {owner}) is using '{out_dir}': wait for it to "
                             "finish or stop it, or choose another --out-dir")
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        yield
    except BaseException:
        lock_file.close()
        if created and [path.name for path in out_dir.iterdir()] == [LOCK_NAME]:
            (out_dir / LOCK_NAME).unlink()
            out_dir.rmdir()
        raise
    else:
        lock_file.close()


def remove_empty_run_folder(out_dir: Path) -> None:
    """Remove a run's folder once it holds nothing but its lock file, unless a run is using it."""
    if [path.name for path in out_dir.iterdir()] != [LOCK_NAME]:
        return
    with open(out_dir / LOCK_NAME, "a+", encoding="utf-8") as lock_file:
        if not try_lock(lock_file):
            return
        (out_dir / LOCK_NAME).unlink()
    out_dir.rmdir()
