"""Datasets and batches, as torch.utils.data: `Dataset`, `TensorDataset`, `DataLoader`, the
samplers and `random_split`.

A dataset is anything with `__getitem__(i)` and `__len__()`. A sampler says in which order to
visit the indices (in order, or shuffled); a `DataLoader` takes batch_size indices at a time from
its sampler, fetches those samples and collates them into one batch: a list of tensors becomes
one stacked tensor, a list of (x, y) pairs becomes the pair (stacked xs, stacked ys).

Everything runs in the calling process: `num_workers` is accepted and loads in the main process
(the arrays are in memory already, so there is nothing to overlap).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..random import Generator, draws
from ..tensor import Tensor, stack


class Dataset:
    """Base class of map-style datasets: subclass and define `__getitem__` and `__len__`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: dataset[i] == (t[i] for t in tensors).

    Args:
        *tensors: tensors with the same size in their first dimension.
    """

    def __init__(self, *tensors: Tensor):
        sizes = {len(t) for t in tensors}
        if len(sizes) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors, first dimensions {sorted(sizes)}")
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Dataset, lengths: Sequence[float], generator: Generator | None = None) -> list[Subset]:
    """Non-overlapping random subsets of these lengths (ints adding up to len(dataset), or
    fractions adding up to 1, whose remainders go one each to the first subsets, as PyTorch)."""
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {list(lengths)} do not add up to the dataset's length {n}")
    order = draws(generator).permutation(n).tolist()
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start:start + length]))
        start += length
    return subsets


class Sampler:
    """Base class: iterating a sampler gives dataset indices."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Dataset):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Indices in random order: a new permutation each pass (or num_samples draws with replacement).

    Args:
        data_source: the dataset.
        replacement: draw each index independently (an index may repeat).
        num_samples: how many indices per pass (len(data_source) by default).
        generator: the random stream (td.manual_seed's by default).
    """

    def __init__(self, data_source: Dataset, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None):
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num_samples = num_samples
        if num_samples is not None and not replacement and num_samples > len(data_source):
            raise ValueError("RandomSampler: num_samples larger than the dataset needs replacement=True")

    @property
    def num_samples(self) -> int:
        """Indices per pass."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng, n = draws(self.generator), len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        return iter(rng.permutation(n)[:self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of batch_size indices from `sampler` (the last one shorter unless drop_last)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def default_collate(batch: list) -> Any:
    """One batch from a list of samples, as PyTorch's: tensors and numpy arrays are stacked, Python
    ints become an int64 tensor and floats a float64 one, tuples/lists and dicts are collated
    field by field, strings stay a list."""
    first = batch[0]
    if isinstance(first, Tensor):
        return stack(batch)
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor._from_array(np.stack([np.asarray(sample) for sample in batch]))
    if isinstance(first, bool):
        return Tensor._from_array(np.array(batch, dtype=np.bool_))
    if isinstance(first, int):
        return Tensor._from_array(np.array(batch, dtype=np.int64))
    if isinstance(first, float):
        return Tensor._from_array(np.array(batch, dtype=np.float64))
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        if len({len(sample) for sample in batch}) != 1:
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(first).__name__}")


class DataLoader:
    """Batches of a dataset, one pass per `for batch in loader`.

    Args:
        dataset: anything with __getitem__ and __len__.
        batch_size: samples per batch (None: the samples themselves, uncollated).
        shuffle: visit the samples in a new random order each pass.
        sampler: the order of indices (instead of shuffle).
        batch_sampler: lists of indices, one per batch (instead of batch_size, shuffle, sampler, drop_last).
        num_workers: accepted; samples load in the main process.
        collate_fn: turns a list of samples into a batch (default_collate by default).
        pin_memory: accepted; there is no GPU to pin memory for.
        drop_last: drop the last batch if it is smaller than batch_size.
        generator: the random stream that shuffles (td.manual_seed's by default).
    """

    def __init__(self, dataset: Dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable[int] | None = None, batch_sampler: Iterable[list[int]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable | None = None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False):
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last")
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.num_workers, self.generator = num_workers, generator
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn if collate_fn is not None else (default_collate if batch_size is not None
                                                                     or batch_sampler is not None else _no_collate)

    def __iter__(self) -> Iterator[Any]:
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
            return
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self) -> int:
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)


def _no_collate(sample: Any) -> Any:
    """batch_size=None: each sample is its own batch, as it is."""
    return sample
