"""The report's figures (matplotlib, Agg): anytime curves, traces, images of one run."""
