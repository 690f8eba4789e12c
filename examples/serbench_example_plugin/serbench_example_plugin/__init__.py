"""A tiny serbench plug-in: the ``zcr_rms`` feature set and the ``nearest_centroid`` model."""
