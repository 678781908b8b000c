"""The camera loop: frame sources (cameras, video files, a watched folder) and the loop that reads a frame,
judges it (edge_all.triage), records it (edge_all.results) and repeats until told to stop; `run_capture`
(app) is the whole capture for the CLI and the station alike.

Above results, below the station and the CLI.
"""
