"""Statistics over runs: summaries, anytime curves, ERT, paired tests, repeats, stability."""
