"""The model on this device: tensors, labels, images, the bundle, the interpreter backend, referral,
heat maps, the Classifier, the model a command chooses (choice), the benchmark engine and the reference
bundle that ships with edge-all (models/).

It imports only the shared leaves below it (errors, digest, jsonfile, ...), never triage, results,
capture, the station or the CLI (the layers contract in pyproject.toml).
"""
