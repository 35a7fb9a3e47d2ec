"""``curator demo``: the embedded example end to end (source -> build -> validate -> verify)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from curator.errors import BuildError, ExitCode
from curator.io.source import read_studies
from curator.models.findings import Report
from curator.outputs import lock, writing
from curator.phantom import PhantomSpec, make_phantom, phantom_affine, write_nifti
from curator.release import build
from curator.render.report import human_bytes, summary
from curator.resources import examples_dir
from curator.validate import ValidateOptions, validate
from curator.verify import verify
from curator.wording import plural

DEMO_SOURCE = "demo"


@dataclass
class DemoResult:
    source: Path
    release: Path
    validation: Report
    verification: Report

    @property
    def ok(self) -> bool:
        return self.validation.counts.error == 0 and self.verification.valid


def make_demo_source(target: Path) -> Path:
    """Copy the example card and studies table to ``target`` and generate the phantoms they name."""
    example = examples_dir() / DEMO_SOURCE
    target.mkdir(parents=True, exist_ok=True)
    for name in ("dataset.yaml", "studies.csv"):
        shutil.copyfile(example / name, target / name)
    for seed, study in enumerate(read_studies(target / "studies.csv"), start=1):
        spec = PhantomSpec(seed=seed, category=int(study.category.split("-")[-1]),
                           sex="M" if study.sex == "M" else "F")
        volume, mask = make_phantom(spec)
        affine = phantom_affine(spec)
        write_nifti(target / study.study, volume, affine)
        if study.mask:
            write_nifti(target / study.mask, mask, affine)
    return target


def run_demo(out: Path, *, force: bool = False, echo: Callable[[str], object] = print) -> DemoResult:
    started = time.perf_counter()
    with lock(out), writing(out):
        return _run_demo(out, force, echo, started)


def _run_demo(out: Path, force: bool, echo: Callable[[str], object], started: float) -> DemoResult:
    source, release = out / "source", out / "release"
    if out.exists() and any(out.iterdir()):
        if not force:
            raise BuildError(f"{out} already exists and is not empty; pass --force or another --out", ExitCode.USAGE)
        for child in (source, release):
            if child.exists():
                shutil.rmtree(child)
    make_demo_source(source)
    echo(f"1. source: {source} (dataset.yaml, studies.csv, {len(list(source.rglob('*.nii.gz')))} synthetic "
         f"NIfTI files)")
    result = build(source, release, force=force)
    per = ", ".join(f"{k} {v}" for k, v in result.per_category.items())
    echo(f"2. build: {release}: {plural(result.studies, 'study', 'studies')} ({per}), {plural(result.masks, 'mask')}, "
         f"{result.files} files, "
         f"{human_bytes(result.bytes)}")
    validation = validate(release, ValidateOptions())
    echo(f"3. {summary(validation)}")
    verification = verify(release)
    echo(f"4. {summary(verification, 'verify')}")
    echo(f"done in {time.perf_counter() - started:.1f} s. Try: cd {release} && sha256sum -c SHA256SUMS; "
         f"curator validate {release} --format json")
    return DemoResult(source=source, release=release, validation=validation, verification=verification)
