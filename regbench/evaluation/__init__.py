"""What a run is judged by: measures, post-run positions, tolerance, outcomes and the stop vocabulary."""
