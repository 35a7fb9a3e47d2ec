"""``curator ingest``: raw DICOM studies (folders and archives) into a MosMed-style build source."""
