"""Judgement: functions that look at gathered facts and yield findings. No reading, no printing.

Every check module declares ``CODES``, the finding codes it can emit; a test keeps the union of them equal
to the active codes of the catalogue.
"""
