"""The finding codes ``curator ingest`` can report (its own, and the archive and file codes it shares)."""

CODES = frozenset({
    "INGEST_INPUT_UNREADABLE", "INGEST_NO_SERIES", "INGEST_SERIES_LEFT_OUT", "INGEST_SERIES_REFUSED",
    "INGEST_CATEGORY_MISSING", "INGEST_MASK_INVALID", "INGEST_STUDY_DUPLICATE",
    "FILE_UNSAFE", "ARCHIVE_UNSAFE_MEMBER", "ARCHIVE_CORRUPT", "ARCHIVE_BOMB",
})
