"""Sweeps: a grid of training runs (`grid`), each cell one Ray task running the training binary
(`cell_runner`), the cells' status (`status`), the driver (`sweep`), and the copying of finished
cells' rows into a committed results directory (`collect`). Importing these modules does not import
TensorFlow."""
