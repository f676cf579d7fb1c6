"""euv2mag: generate solar magnetograms from EUV images, and audit how far they can be trusted.

The core works on plain NumPy arrays plus :class:`~euv2mag.geometry.DiskGeometry`;
FITS, Zarr, torch and plotting live in thin layers at the edges (``data/``, ``model/``,
``report/``).  See the project README for the command-line interface.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("euv2mag")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
