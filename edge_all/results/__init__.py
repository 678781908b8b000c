"""The results database and its reports: the SQLite store (its schema and migrations), the
per-sample summary, the CSV export, the rows table of `results show`, the batch report of `classify`,
and the one flattening of a judged field that classify's JSON and CSV and the capture record share
(judged).

Above triage (it counts statuses and makes the screening call), below capture, the station and the CLI.
"""
