"""Data files of the data layer (the synthetic shop vocabulary)."""
