"""A build source with the real MosMedData COVID19_1110 distribution and tiny volumes (for tests and benchmarks).

1110 studies: CT-0..CT-4 = 254/684/125/45/2, 50 masks (CT-1), sex 42/56/2 % (M/F/O), ages 18..97 with median 47.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from tests.factories import card_data, lesion_mask, write_nifti

CATEGORIES = {"CT-0": 254, "CT-1": 684, "CT-2": 125, "CT-3": 45, "CT-4": 2}
SEXES = ["M"] * 466 + ["F"] * 622 + ["O"] * 22        # 42.0 / 56.0 / 2.0 %


def ages(count: int = 1110) -> list[int]:
    """min 18, max 97, median 47: evenly spread below and above the median."""
    low = list(np.linspace(18, 47, count // 2).round().astype(int))
    high = list(np.linspace(47, 97, count - count // 2).round().astype(int))
    return [int(a) for a in low + high]


def make_mosmed_source(folder: Path, shape: tuple[int, int, int] = (8, 8, 4)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dataset.yaml").write_text(yaml.safe_dump(card_data(code="COVID19_1110", short_name="MosMedData"),
                                                        allow_unicode=True), encoding="utf-8")
    rng = np.random.default_rng(1110)
    volume = rng.integers(-1000, 400, size=shape, dtype=np.int16)
    study_proto = write_nifti(folder / "proto/study.nii.gz", volume)
    mask_proto = write_nifti(folder / "proto/mask.nii.gz", lesion_mask(shape))
    categories = [c for c, n in CATEGORIES.items() for _ in range(n)]
    sexes, age_list = list(SEXES), ages()
    rng.shuffle(sexes)
    rng.shuffle(age_list)
    lines = ["study,category,sex,age,mask"]
    masks_left = 50
    for index, category in enumerate(categories):
        study = f"raw/s{index:04d}.nii.gz"
        (folder / study).parent.mkdir(parents=True, exist_ok=True)
        (folder / study).write_bytes(study_proto.read_bytes())
        mask = ""
        if category == "CT-1" and masks_left:
            masks_left -= 1
            mask = f"raw/s{index:04d}_mask.nii.gz"
            (folder / mask).write_bytes(mask_proto.read_bytes())
        lines.append(f"{study},{category},{sexes[index]},{age_list[index]},{mask}")
    (folder / "studies.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
