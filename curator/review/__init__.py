"""``curator review``: a static review page of a release (the validation, its findings, a strip of every study).

The package, in the order of its steps: :mod:`~curator.review.folder` (OUT's checks and :func:`write_review`),
:mod:`~curator.review.studies` (the cards: studies of each layout, the findings that belong to each),
:mod:`~curator.review.thumbnails` (the worker task that draws one study), :mod:`~curator.review.layouts` (the
pictures of a DICOM patient folder and of a slices case), :mod:`~curator.review.strips` (reading NIfTI planes,
drawing the strips) and :mod:`~curator.review.page` (the HTML; its style and scripts are ``templates/review/``).
"""

from curator.review.folder import LARGE, check_out, write_review
from curator.review.studies import ReviewStudy, find_studies, layout

__all__ = ["LARGE", "ReviewStudy", "check_out", "find_studies", "layout", "write_review"]
