"""regbench's built-in plugins: each module uses only regbench's public API, like a third-party plugin."""
