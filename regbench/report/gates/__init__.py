"""Gates that fail a command on a regression: compare two stores, the SimpleITK upgrade check, the strategy switch
check (the last two share their paired statistics: paired.py)."""
