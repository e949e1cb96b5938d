"""Command-line programs: `python -m hierarchy.bin.train` and `python -m hierarchy.bin.evaluate`."""
