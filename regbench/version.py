"""The version of regbench (one source, which setuptools reads without importing: pyproject.toml) and the versions
every record stores (:func:`versions`). A module of its own so the core can read them without importing the package
root, which imports the core."""

__version__ = "0.1.0"


def versions() -> dict[str, str]:
    """regbench's and its engine's versions, as a run's record keeps them (part of its key)."""
    import platform

    import numpy as np
    import pluggy
    import SimpleITK as sitk

    return {
        "regbench": __version__,
        "SimpleITK": sitk.Version_VersionString(),
        "ITK": sitk.Version_ITKVersionString(),
        "numpy": np.__version__,
        "pluggy": pluggy.__version__,
        "python": platform.python_version(),
    }
