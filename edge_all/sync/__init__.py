"""The clinic's link to the hospital: the outbox beside the results database and `edge-all sync`.

protocol.py is the contract both ends share (the hub imports it too): records with client-made ids
and the sha256 of their canonical JSON, checked against sync.schema.json.
"""
