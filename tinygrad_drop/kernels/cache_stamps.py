"""Numba's disk cache, made to notice an edit to any kernel file a cached kernel compiled in.

Numba files a cached kernel under a stamp of its own source file only. But a kernel compiles
in code from other files of this folder (exp_float32.py's exp, random_bits.py's hash,
parallel.py's task helpers, attention.py's head functions into attention_heads.py). After
one of those changed, a kernel whose own file did not kept loading machine code built with the
old helper, while a twin compiled since used the new one: the two twins of one kernel (threads,
calling thread) could then differ in the last bit on a warm cache, and no fresh checkout showed it.

Here a kernel's stamp covers its file and every file of this folder it imports, directly or
through another: editing a helper recompiles exactly the kernels that compile it in. Only files
of this folder get these locators; every other Numba function is cached as Numba does.
"""
from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path

from numba.core.caching import CacheImpl, InTreeCacheLocator, UserProvidedCacheLocator

KERNELS_DIR = Path(__file__).resolve().parent
RELATIVE_IMPORT = re.compile(r"^\s*from \.(\w+) import", re.M)


def files_compiled_in(path: Path) -> list[Path]:
    """The file and every kernel file it imports, directly or through another, sorted."""
    found, todo = set(), [path.resolve()]
    while todo:
        current = todo.pop()
        if current in found or not current.exists():
            continue
        found.add(current)
        todo.extend(KERNELS_DIR / f"{name}.py" for name in RELATIVE_IMPORT.findall(current.read_text()))
    return sorted(found)


@functools.lru_cache(maxsize=None)
def _content_hash(path: Path, mtime_ns: int, size: int) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def kernel_stamp(path: Path) -> tuple:
    """(file name, content hash) of the file and of every kernel file it compiles in."""
    stamps = []
    for file in files_compiled_in(path):
        status = file.stat()
        stamps.append((file.name, _content_hash(file, status.st_mtime_ns, status.st_size)))
    return tuple(stamps)


class _StampsHelpersToo:
    """A locator for this folder's kernels whose stamp covers the helpers they compile in."""

    def get_source_stamp(self) -> tuple:
        return kernel_stamp(Path(self._py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != KERNELS_DIR:
            return None
        return super().from_function(py_func, py_file)


class KernelInUserCacheDir(_StampsHelpersToo, UserProvidedCacheLocator):
    """NUMBA_CACHE_DIR, when set (Numba's own first choice)."""


class KernelInTree(_StampsHelpersToo, InTreeCacheLocator):
    """The kernels' own __pycache__ folder."""


def stamp_kernels_with_their_helpers() -> None:
    """Put this folder's two locators first in Numba's list (once): the kernels defined after
    this call are cached under stamps that cover their helpers."""
    locators = CacheImpl._locator_classes
    for locator in (KernelInTree, KernelInUserCacheDir):
        if locator not in locators:
            locators.insert(0, locator)
