"""Reports: tables, statistics, figures, HTML and comparisons built from run records."""
