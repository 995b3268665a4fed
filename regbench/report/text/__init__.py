"""Reports for the terminal: one run explained, tables, and how text from data is printed."""
