"""Cells at physical scale: the scale of an image in micrometres per pixel (from its red cells, or given),
resampling to a scale by area averaging, and (next) stain normalisation and the white-cell finder.

Above runtime (it runs on pixels and may use the classifier's image code), below triage (the quality
judge and the decision read cells at the bundle's scale).
"""
