"""Helpers for programs built on the library: command-line errors and flags (`cli`), a progress
bar (`progress`), datasets and the DataLoader (`data`, PyTorch's torch.utils.data). Import the one
you need, e.g. `from tinygrad_drop.utils.progress import ProgressBar`."""
