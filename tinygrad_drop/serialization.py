"""`td.save` / `td.load`: checkpoints as one .npz file, written atomically.

Format. An .npz is a zip archive of .npy files, one per array, readable by plain numpy:
`np.load("ckpt.npz")["lm_head.weight"]`. Each array is named by its path in the saved object,
joined with "/" ("model/transformer.wte.weight", "optimizer/state/0/exp_avg"). Everything that is
not an array (nesting, integer keys such as the optimizer's parameter indices, tuples, ints,
floats, strings, None) goes into one JSON header entry that describes the whole object, so
`load(save(obj))` rebuilds it exactly. Tensors are stored as their arrays and come back as numpy
arrays (which `load_state_dict` accepts); numpy scalars come back as Python numbers. Nothing is
pickled, so loading a file cannot run code.

Atomicity. The file is first written under a temporary name in the same directory, flushed and
fsync'ed to disk, and only then renamed over the target with `os.replace`, which is atomic: a
crash at any moment leaves either the complete old file or the complete new one, never half.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import struct
import zipfile
import zlib
from typing import Any, Mapping

import numpy as np

from .tensor import Tensor

HEADER_NAME = "__tinygrad_drop__"
FORMAT_NAME = "tinygrad_drop checkpoint"
FORMAT_VERSION = 1


def _encode(obj: Any, path: list[str], arrays: dict[str, np.ndarray]) -> Any:
    """The JSON description of obj; its arrays are collected in `arrays` under their path names.

    Plain JSON values stand for themselves; anything else is a one-key object saying what it is:
    {"array": name}, {"dict": [[key, value], ...]}, {"list": [...]}, {"tuple": [...]}."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError(f"td.save cannot store arrays of Python objects (at '{'/'.join(path)}')")
        name = "/".join(path) or "array"
        if name in arrays or name == HEADER_NAME:
            raise ValueError(f"td.save: two entries would both be stored under the name '{name}'")
        arrays[name] = obj
        return {"array": name}
    if isinstance(obj, np.generic):
        obj = obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, Mapping):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"td.save: dictionary keys must be str or int, got {key!r}")
            if isinstance(key, str) and (key == "" or "/" in key):
                raise ValueError(f"td.save: dictionary keys must be non-empty and contain no '/', got {key!r}")
            items.append([key, _encode(value, path + [str(key)], arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(value, path + [str(i)], arrays) for i, value in enumerate(obj)]}
    raise TypeError(f"td.save cannot store a {type(obj).__name__} (at '{'/'.join(path) or 'top level'}')")


# A checkpoint nests a few levels (model / state / index / moment); a file that nests deeper than
# this was not written by td.save, and would only exhaust the decoder's recursion.
MAX_NESTING = 100
MAX_HEADER_BYTES = 64 * 2**20  # the JSON that describes the object; a GPT's is a few kilobytes


def _decode(node: Any, arrays: Mapping[str, np.ndarray], depth: int = 0) -> Any:
    if depth > MAX_NESTING:
        raise ValueError(f"its header nests deeper than {MAX_NESTING} levels")
    if not isinstance(node, dict):
        return node
    (kind, payload), = node.items()
    if kind == "array":
        return arrays[payload]
    if kind == "dict":
        return {key: _decode(value, arrays, depth + 1) for key, value in payload}
    if kind == "list":
        return [_decode(value, arrays, depth + 1) for value in payload]
    if kind == "tuple":
        return tuple(_decode(value, arrays, depth + 1) for value in payload)
    raise ValueError(f"unknown entry kind {kind!r} in the header")


def _check_declared_size(archive: Any, name: str, file_size: int) -> None:
    """Refuse an entry whose sizes do not add up, before numpy allocates anything: td.save stores
    entries uncompressed, so an entry holds exactly its bytes on disk (a compressed one could unpack
    gigabytes from kilobytes), which the file must have room for, and its .npy header may declare
    no more bytes than the entry holds (a crafted header can ask for terabytes)."""
    info = archive.zip.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
        raise ValueError(f"its entry '{name}' is compressed, and td.save writes none")
    if info.file_size > file_size:
        raise ValueError(f"its entry '{name}' claims {info.file_size} bytes in a file of {file_size}")
    if name == HEADER_NAME and info.file_size > MAX_HEADER_BYTES:
        raise ValueError(f"its header entry has {info.file_size} bytes, more than the {MAX_HEADER_BYTES} a header may have")
    with archive.zip.open(info) as member:
        version = np.lib.format.read_magic(member)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(member)
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > info.file_size:
        raise ValueError(f"its entry '{name}' declares {declared} bytes of data but holds {info.file_size}")


def _write_npz(file: Any, entries: Mapping[str, np.ndarray]) -> None:
    """What np.savez does, without its keyword arguments clashing with names like "file"."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in entries.items():
            with archive.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself survive a power loss. Best effort: Windows cannot open directories
    and some network file systems refuse to fsync them; the file's own data is already on disk."""
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        return


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write obj (a state dict, or a dict of them plus numbers such as the iteration) to path."""
    path = os.fspath(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, [], arrays)
    header = json.dumps({"format": FORMAT_NAME, "version": FORMAT_VERSION, "tree": tree})
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "cannot save: no such directory", directory)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    # O_EXCL: never write into a file someone else created; mode 0o666 minus the umask, as open() does.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, {HEADER_NAME: np.array(header), **arrays})
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync_directory(directory)


# Whatever a damaged or foreign file makes numpy, zipfile or json raise while reading it (json's
# decoder recurses, so a header nested thousands deep ends in RecursionError there).
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error, struct.error,
                RecursionError)


def _read(path: str) -> Any:
    # Opened here, not by np.load, so the file is closed even when numpy fails halfway.
    with open(path, "rb") as file:
        loaded = np.load(file, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single .npy array, not a checkpoint archive")
        with loaded as archive:
            if HEADER_NAME not in archive.files:
                raise ValueError(f"it has no '{HEADER_NAME}' header entry (not written by td.save)")
            file_size = os.fstat(file.fileno()).st_size
            _check_declared_size(archive, HEADER_NAME, file_size)
            header = json.loads(str(archive[HEADER_NAME].item()))
            if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
                raise ValueError("its header entry does not describe a tinygrad_drop checkpoint")
            if header.get("version") != FORMAT_VERSION:
                raise ValueError(f"it has format version {header.get('version')!r}; "
                                 f"this version reads {FORMAT_VERSION}")
            for name in archive.files:
                _check_declared_size(archive, name, file_size)
            arrays = {name: archive[name] for name in archive.files if name != HEADER_NAME}
    return _decode(header["tree"], arrays)


def load(path: str | os.PathLike) -> Any:
    """Read what `save` wrote. Raises FileNotFoundError or ValueError naming the path."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no such checkpoint file", path)
    try:
        return _read(path)
    except _READ_ERRORS as error:
        raise ValueError(f"cannot load '{path}': not a valid tinygrad_drop checkpoint "
                         f"({type(error).__name__}: {error})") from None
