"""Models built only from tinygrad_drop's public API."""
