"""Analysis of run directories: the sweep summary (`aggregate`), the evidence report (`compare`, with
its analysis in `evidence`, its figures in `evidence_plots` and its statistics in `stats`), and the
connected-gradient diagnostics of trained runs (`cg_gradients`)."""
