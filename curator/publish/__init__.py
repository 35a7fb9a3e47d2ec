"""``curator publish``: put a validated release on S3-compatible storage, Zenodo (and, from their modules,
Dataverse and the Hugging Face Hub). :mod:`curator.publish.target` is the interface, :mod:`curator.publish.run`
the driver shared by every target, :mod:`curator.publish.credentials` the tokens and the one redaction helper."""
