"""``curator anonymise SRC OUT``: a de-identified copy of a folder of DICOM files.

The command is registered on the ``curator`` group in ``curator.cli.main``; it imports that module only when it
runs, so the two do not import each other at start-up.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def _run(source: Path, out: Path, key_file: Path | None, map_file: Path | None, keep_safe_private: bool,
         retain_patient_characteristics: bool, copy_other: bool, skip_failed: bool, force: bool, jobs: int | None,
         fmt: str, name_map: Path | None = None) -> None:
    from curator.anonymise import (
        AnonymiseError,
        AnonymiseOptions,
        key_file_exposure,
        load_key,
        load_mapping,
        summary_text,
    )
    from curator.anonymise import anonymise as run_anonymise
    from curator.anonymise.paths import default_name_map
    from curator.cli.main import EXIT_INVALID, EXIT_VALID
    from curator.errors import OptionsError

    key = load_key(key_file)
    mapping = load_mapping(map_file) if map_file is not None else None
    names = (name_map or default_name_map(out)).resolve()
    if any(own is not None and own.resolve() == names for own in (key_file, map_file)):
        raise OptionsError(f"the name map {names} is also given as the key file or --map: writing it would destroy "
                           "that file; name another --name-map")
    options = AnonymiseOptions(key=key, mapping=mapping, keep_safe_private=keep_safe_private,
                               retain_patient_characteristics=retain_patient_characteristics, copy_other=copy_other,
                               skip_failed=skip_failed, force=force, jobs=jobs, name_map=name_map)
    try:
        summary = run_anonymise(source, out, options)
    except AnonymiseError as error:
        exposed = key_file_exposure(key_file)
        if exposed:
            click.echo(f"curator anonymise: warning: {exposed}", err=True)
        click.echo(f"curator anonymise: {error}", err=True)
        for problem in error.problems[:50]:
            click.echo(f"  - {problem}", err=True)
        if len(error.problems) > 50:
            click.echo(f"  ... and {len(error.problems) - 50} more", err=True)
        sys.exit(EXIT_INVALID)
    exposed = key_file_exposure(key_file)
    if exposed:
        summary.warnings.append(exposed)
    click.echo(json.dumps(summary.as_dict(), indent=2) + "\n" if fmt == "json" else summary_text(summary), nl=False)
    sys.exit(EXIT_INVALID if summary.failed or summary.remaining else EXIT_VALID)


def _run_nifti(source: Path, out: Path, force: bool, jobs: int | None, fmt: str) -> None:
    from curator.anonymise.nifti import NiftiAnonymiseError, anonymise_nifti_tree
    from curator.anonymise.nifti import summary_text as nifti_summary_text
    from curator.cli.main import EXIT_INVALID, EXIT_VALID

    try:
        summary = anonymise_nifti_tree(source, out, force=force, jobs=jobs)
    except NiftiAnonymiseError as error:
        click.echo(f"curator anonymise --nifti: {error}", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(json.dumps(summary.as_dict(), indent=2) + "\n" if fmt == "json" else nifti_summary_text(summary),
               nl=False)
    sys.exit(EXIT_VALID)


@click.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--key-file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="File holding the secret key (default: $CURATOR_ANON_KEY). Same key, same new UIDs, "
                   "pseudonyms and date offsets; the key is never written to OUT.")
@click.option("--map", "map_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="CSV of original PatientID,pseudonym (default: ANON-<10 digits> derived from the key).")
@click.option("--name-map", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to keep the original names of renamed files and folders (default: OUT.namemap.csv "
                   "beside OUT; never inside SRC or OUT).")
@click.option("--keep-safe-private", is_flag=True,
              help="Keep the private attributes known to be safe (schema/deid/safe_private.yaml; claims 113111).")
@click.option("--retain-patient-characteristics", is_flag=True,
              help="Keep sex, age, size and weight (claims 113108); ages of 90 and over become 090Y.")
@click.option("--copy-other", is_flag=True, help="Copy files that are not DICOM unchanged (default: leave them out).")
@click.option("--skip-failed", is_flag=True,
              help="Leave out DICOM files that cannot be anonymised instead of writing nothing.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists (only once the new copy is complete).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Files processed at once (default: all cores).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--nifti", is_flag=True,
              help="Copy a folder of NIfTI files (a release) instead: header text, extensions, gzip name/time and "
                   "bytes after the last voxel removed, voxels untouched; other files copied. No key needed.")
def anonymise(source: Path, out: Path, key_file: Path | None, map_file: Path | None, keep_safe_private: bool,
              retain_patient_characteristics: bool, copy_other: bool, skip_failed: bool, force: bool,
              jobs: int | None, fmt: str, name_map: Path | None, nifti: bool) -> None:
    """Write a de-identified copy of the DICOM files in SOURCE to OUT (PS3.15 Basic Profile).

    Identifying attributes are removed, emptied or replaced, UIDs remapped with a keyed hash, dates shifted
    by one offset per patient, private attributes removed; pixel data is copied byte for byte. SOURCE is only
    read; files that are not DICOM are left out unless --copy-other. File and folder names that carry a patient's
    identifiers are renamed to keyed pseudonyms, their original names kept in --name-map (mode 600). Check the
    result with `curator validate OUT`.
    Exit codes: 0 done and the copy passes the DICOM privacy audit; 1 files could not be anonymised or the audit
    still finds errors in the copy (e.g. burned-in annotation) or SOURCE holds no DICOM file; 2 usage (e.g. no
    key); 3 could not run (SOURCE missing or not a folder, internal error).
    """
    from curator.cli.main import guarded

    if nifti:
        dicom_only = [name for name, given in (("--key-file", key_file), ("--map", map_file),
                                                ("--keep-safe-private", keep_safe_private),
                                                ("--retain-patient-characteristics", retain_patient_characteristics),
                                                ("--copy-other", copy_other), ("--skip-failed", skip_failed),
                                                ("--name-map", name_map)) if given]
        if dicom_only:
            raise click.UsageError(f"{', '.join(dicom_only)} apply to DICOM, not to --nifti")
        guarded(_run_nifti)(source, out, force, jobs, fmt)
        return
    guarded(_run)(source, out, key_file, map_file, keep_safe_private, retain_patient_characteristics, copy_other,
                  skip_failed, force, jobs, fmt, name_map)
