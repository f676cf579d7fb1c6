"""Data: the synthetic Sun, FITS preparation, the Zarr dataset store and splits."""
