"""Gates that fail a command on a regression: compare two stores, the SimpleITK upgrade check."""
