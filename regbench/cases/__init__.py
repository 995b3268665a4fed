"""Cases: the Case model and its setup, TOML case files and their inputs, simulated and tiny cases."""
