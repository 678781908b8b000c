"""The clinic station: `edge-all serve`, a small web application on the device itself.

A new face on the same engine: captures run through edge_all.capture.app.run_capture in a thread of
the server process, results come from the results database, and the pages only watch and read.
Modules: config (what the server was started with), passwords (the station's password file),
security (sessions, CSRF, login limits, headers), runner (the background capture), facts (what the
Station page shows), images (fields' pictures, by database id only), export (CSV), app (the routes),
server (start uvicorn once the bind is allowed).
"""
