"""The finding codes ``curator ingest`` can report (its own, and the archive codes it shares with verify)."""

CODES = frozenset({"INGEST_INPUT_UNREADABLE", "INGEST_NO_SERIES", "INGEST_SERIES_LEFT_OUT", "INGEST_SERIES_REFUSED",
                   "INGEST_CATEGORY_MISSING", "INGEST_MASK_INVALID", "ARCHIVE_UNSAFE_MEMBER", "ARCHIVE_CORRUPT",
                   "ARCHIVE_BOMB"})
