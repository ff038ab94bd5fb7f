"""The training core: pure ML, no web or database imports."""
