"""Training: find the images, split them once, build and fit the model, report what it learned.

Keras 3 APIs only (no `import tensorflow`), so it runs on any Keras backend.
"""
