"""Presentation: reports and catalogues as text or JSON. Nothing here decides what is wrong."""
