"""The finding codes ``curator build`` can report about its source (its own, and the file and image codes it
shares); the findings are made in :mod:`curator.release.source_problems`, and a test keeps the two in step."""

CODES = frozenset({
    "BUILD_CARD_INVALID", "BUILD_LICENCE_UNKNOWN", "BUILD_STUDIES_UNREADABLE", "BUILD_ROW_INVALID",
    "BUILD_CATEGORY_UNDECLARED", "BUILD_STUDY_DUPLICATE", "REQUIRED_FILE_MISSING", "FILE_MISSING",
    "IMAGE_UNREADABLE", "MASK_SHAPE_MISMATCH", "IMAGE_TRAILING_DATA",
})
