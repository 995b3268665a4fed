"""Diagnostics beside the benchmark: the semantics probe, the gradient audit, the stability audit."""
