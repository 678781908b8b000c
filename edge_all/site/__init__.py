"""The site profile: one clinic's microscope, camera and stain, measured once on a normal control smear.

`edge-all commission` writes SITE_DIR/site.json (profile.py): the scale in micrometres per pixel, the
stain reference, the quality baselines, the commissioning images and the bundle it was made with;
`--site SITE_DIR` makes classify and capture-and-classify read every field with them.
"""
