"""Conversion: float Keras model -> TFLite (int8 by default), checked against the float model.

The one package that imports TensorFlow, and only inside functions.
"""
