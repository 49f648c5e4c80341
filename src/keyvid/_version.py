"""The installed package's version, read from its metadata (``pyproject.toml``), so that a
module needing it imports this and not the package's ``__init__``."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("keyvid")
except PackageNotFoundError:  # a source tree used without installing it
    __version__ = "0+unknown"
