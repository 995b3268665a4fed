"""Running a matrix: the plan, run files, the schedule, executors (local, isolated, Dask) and workers."""
