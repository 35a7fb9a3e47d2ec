"""``curator fetch``: sources (HTTP(S), S3, Zenodo, Dataverse, the Hugging Face Hub), the plan of files to fetch,
the resumable downloader that hashes while it streams, and the run that verifies DEST at the end."""

from curator.fetch.download import Outcome, download
from curator.fetch.plan import Item, Plan
from curator.fetch.run import Fetched, fetch

__all__ = ["Fetched", "Item", "Outcome", "Plan", "download", "fetch"]
