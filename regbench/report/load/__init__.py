"""Runs loaded for reports: from stores and files, as columns, grouped into instances."""
