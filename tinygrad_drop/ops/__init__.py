"""Every built-in differentiable op, each a `Function` with forward and backward side by side."""
