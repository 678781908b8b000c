"""What any command does with a frame: the status words, the quality thresholds and measures, the one
decision per field (classified, uncertain, referred, rejected) and the screening call of a slide.

Above runtime (it runs the model through the Predictor protocol), below results, capture, the station
and the CLI: `classify`, which has no camera, needs nothing from capture/.
"""
