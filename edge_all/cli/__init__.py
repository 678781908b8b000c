"""The command line: the one `edge-all` app (main), the options its commands share (options) and one
module per command group (classify and info, capture, results, serve, benchmark).

The top layer: nothing in edge_all imports it. Command modules import only typer and the standard
library (and standard-library-only option classes) at module level, so `edge-all --help` is instant.
"""
