"""Data to train on: text corpora with a character tokenizer and random batches (`text`), and the
synthetic digit tasks (`digit_tasks`). Not imported by `import tinygrad_drop`; write

    import tinygrad_drop.data
    dataset = tinygrad_drop.data.TextDataset(tinygrad_drop.data.load_text("shakespeare"), block_size=64)
"""
from .digit_tasks import TASKS, DigitTask
from .text import CharTokenizer, Text, TextDataset, load_text

__all__ = ["TASKS", "CharTokenizer", "DigitTask", "Text", "TextDataset", "load_text"]
