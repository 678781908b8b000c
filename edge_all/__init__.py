"""edge-all: on-device screening of blood smear images for Acute Lymphoblastic Leukemia.

This package is the device runtime. It must never import TensorFlow or Keras: a Raspberry Pi
in a clinic runs it with numpy, pillow and a TFLite interpreter only.
"""

__version__ = "0.1.0"
