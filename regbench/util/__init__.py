"""Small helpers that import nothing of regbench above them: JSON, transforms, TOML, text, memory."""
