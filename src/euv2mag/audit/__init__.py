"""Audit of generated magnetograms: full-disk metrics, active regions, matching, saturation, leakage, variability."""
