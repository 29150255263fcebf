"""``totalseg dataset``: download, index, check, split, scan and convert the TotalSegmentator datasets.

Each action calls one function of :mod:`totalseg.dataset` and prints its result; what was skipped
is listed on stderr and the rest of the work still completes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from totalseg.dataset.catalog import DATASETS, ZENODO_URL
from totalseg.dataset.layout import DatasetIndex, open_dataset
from totalseg.dataset.splits import NNUNET_SEED, SPLIT_METHODS
from totalseg.errors import InputError

_FEW = 20  # problems listed one per line before the rest are only counted


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "dataset", help="download, check and convert the TotalSegmentator datasets",
        description="Work with the public TotalSegmentator datasets in their Zenodo layout.",
    )
    actions = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    dl = actions.add_parser("download", help="download and extract a dataset (resumable, verified)")
    dl.add_argument("--dataset", required=True, choices=list(DATASETS), help="which dataset")
    dl.add_argument("--root", required=True, type=Path, help="dataset folder to fill")
    dl.add_argument("--base-url", default=ZENODO_URL, metavar="URL", help="Zenodo or a mirror with the same paths")
    dl.add_argument("--keep-zip", action="store_true", help="keep the archive after extraction")
    dl.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    dl.set_defaults(handler=run_download)

    ix = _with_root(actions.add_parser("index", help="summarize subjects, classes, masks and meta.csv"))
    ix.add_argument("--out", type=Path, metavar="FILE", help="also write one row per subject (.csv or .parquet)")
    ix.add_argument("--list-classes", action="store_true", help="also print the class list (label id and name)")
    ix.set_defaults(handler=run_index)

    ck = _with_workers(_with_root(actions.add_parser("check", help="find missing, unreadable or misaligned files")))
    ck.add_argument("--quick", action="store_true", help="read headers only (does not find truncated files)")
    ck.set_defaults(handler=run_check)

    sp = _with_root(actions.add_parser("splits", help="official, 60/20/20 ratio, or k-fold splits as JSON"))
    sp.add_argument("--method", default="official", choices=[*SPLIT_METHODS, "kfold"], help="default official")
    sp.add_argument("--folds", type=int, default=5, help="k-fold: number of folds (default 5)")
    sp.add_argument("--seed", type=int, default=NNUNET_SEED, help=f"k-fold seed (default {NNUNET_SEED}, nnU-Net's)")
    sp.add_argument("--out", type=Path, metavar="FILE", help="write the JSON here (default: print it)")
    sp.set_defaults(handler=run_splits)

    mf = _with_scan(_with_root(actions.add_parser("manifest", help="slice-classification manifest (CSV or Parquet)")))
    mf.add_argument("--out", required=True, type=Path, metavar="FILE", help=".csv or .parquet")
    mf.add_argument("--every", type=int, default=25, help="take every N-th slice (default 25)")
    mf.add_argument("--offset", type=int, default=0, help="first slice (default 0)")
    mf.add_argument("--split", default="ratio", choices=SPLIT_METHODS, help="split column (default ratio: 60/20/20)")
    mf.set_defaults(handler=run_manifest)

    st = _with_scan(_with_root(actions.add_parser("stats", help="per-class cases, coverage and mean volume")))
    st.add_argument("--out", type=Path, metavar="FILE", help="also write the table (.csv or .parquet)")
    st.set_defaults(handler=run_stats)

    ca = _with_workers(_with_root(actions.add_parser(
        "cache", help="build the uncompressed array cache the PyTorch datasets read (once; rebuilt when stale)")))
    ca.add_argument("--cache", type=Path, metavar="DIR", help="cache folder (default ROOT/.totalseg-cache/arrays)")
    labels = ca.add_mutually_exclusive_group()
    labels.add_argument("--label-map", metavar="MAP", help="label maps with these classes: total, total_v1, "
                        "mri_dataset_v100 or a part map such as class_map_part_organs (default: the dataset's)")
    labels.add_argument("--groups", type=Path, metavar="FILE", help='JSON {"new name": ["mask", ...], ...}: '
                        "label i is the union of the i-th group's masks")
    labels.add_argument("--images-only", action="store_true", help="cache the images only")
    ca.set_defaults(handler=run_cache)

    nn = _with_workers(_with_root(actions.add_parser("to-nnunet", help="write nnU-Net v2 raw format"), classes=False))
    nn.add_argument("out", type=Path, metavar="OUT", help="nnU-Net dataset folder, e.g. Dataset291_organs")
    nn.add_argument("--classes", dest="labels", metavar="MAP",
                    help="label map: total, total_v1, mri_dataset_v100 or a part map such as class_map_part_organs "
                         "(default: the dataset's class list)")
    nn.add_argument("--format", default="nifti", choices=["nifti", "nrrd"], help="file format (default nifti)")
    nn.add_argument("--split", default="official", choices=SPLIT_METHODS, help="train+val -> Tr, test -> Ts")
    nn.set_defaults(handler=run_to_nnunet)


def _with_root(p: argparse.ArgumentParser, *, classes: bool = True) -> argparse.ArgumentParser:
    p.add_argument("root", type=Path, metavar="ROOT", help="dataset folder (holding meta.csv and sXXXX/)")
    if classes:
        p.add_argument("--classes", dest="dataset_classes", metavar="MAP", help="class map of the masks: total, "
                       "total_v1 or mri_dataset_v100 (default: detected from the mask names)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _with_workers(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--workers", type=int, metavar="N", help="processes (default: the CPUs available, at most 8)")
    return p


def _with_scan(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--cache", type=Path, metavar="DIR", help="scan cache, makes reruns instant and passes "
                   "resumable (default ROOT/.totalseg-cache)")
    p.add_argument("--no-cache", action="store_true", help="keep no scan cache")
    return _with_workers(p)


def _index(args: argparse.Namespace) -> DatasetIndex:
    index = open_dataset(args.root, classes=getattr(args, "dataset_classes", None))
    for warning in index.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return index


def _cache_dir(args: argparse.Namespace) -> Path | None:
    from totalseg.dataset.scan import default_cache_dir

    return None if args.no_cache else args.cache or default_cache_dir(args.root)


def _report_skipped(skipped, missing: list[str]) -> None:
    if missing:
        print(f"warning: {len(missing)} mask files missing, counted as empty: {', '.join(missing[:5])}"
              f"{' ...' if len(missing) > 5 else ''}", file=sys.stderr)
    if skipped:
        print(f"skipped {len(skipped)} subjects:", file=sys.stderr)
        for item in skipped:
            subject, reason = (item.subject, item.reason) if hasattr(item, "subject") else item
            print(f"  {subject}: {reason}", file=sys.stderr)


def run_download(args: argparse.Namespace) -> int:
    from totalseg.dataset.download import download_dataset

    result = download_dataset(args.dataset, args.root, base_url=args.base_url, keep_archive=args.keep_zip,
                              progress=not args.quiet)
    state = "downloaded and extracted into" if result.downloaded else "already complete in"
    print(f"{args.dataset}: {state} {result.root}")
    return 0


def run_index(args: argparse.Namespace) -> int:
    index = _index(args)
    names = list(index.classes.values())
    splits = Counter(s.meta.get("split", "") or "-" for s in index.subjects)
    missing = {s.id: [n for n in names if n not in s.masks] for s in index.subjects}
    n_missing = sum(len(v) for v in missing.values())
    print(f"dataset: {index.root}")
    print(f"modality: {index.modality}  image: {index.image_name}  subjects: {len(index.subjects)}")
    print(f"classes: {index.class_map_name} ({len(names)})")
    if args.list_classes:
        print("\n".join(f"  {label:3d} {name}" for label, name in index.classes.items()))
    print(f"meta.csv columns: {', '.join(index.meta_columns) or '(no meta.csv)'}")
    print("split: " + ", ".join(f"{k} {v}" for k, v in sorted(splits.items())))
    print(f"missing masks: {n_missing} in {sum(1 for v in missing.values() if v)} subjects; "
          f"subjects without image: {sum(not s.has_image for s in index.subjects)}")
    if args.out:
        from totalseg.dataset.tables import write_table

        write_table({
            "subject": [s.id for s in index.subjects],
            "image": [index.relative_image_path(s) if s.has_image else "" for s in index.subjects],
            "split": [s.meta.get("split", "") for s in index.subjects],
            "masks": [len(s.masks & set(names)) for s in index.subjects],
            "missing_masks": [";".join(missing[s.id]) for s in index.subjects],
        }, args.out)
        print(f"wrote {args.out}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from totalseg.dataset.check import check_dataset

    report = check_dataset(_index(args), quick=args.quick, workers=args.workers, progress=not args.quiet)
    for problem in report.problems[:_FEW]:
        print(problem)
    if len(report.problems) > _FEW:
        print(f"... and {len(report.problems) - _FEW} more")
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(report.counts().items())) or "no problems"
    print(f"checked {report.subjects} subjects, {report.files} files: {counts}")
    return 0 if report.ok else 1


def run_splits(args: argparse.Namespace) -> int:
    from totalseg.dataset.splits import assign_split, kfold_split, official_split, split_lists

    index = _index(args)
    if args.method == "kfold":
        try:
            pool = [s for s, v in official_split(index).items() if v != "test"]
        except InputError:  # no official split: fold all subjects
            pool = [s.id for s in index.subjects]
        result: object = kfold_split(pool, folds=args.folds, seed=args.seed)
        summary = ", ".join(f"fold {i}: {len(f['train'])}/{len(f['val'])}" for i, f in enumerate(result))  # type: ignore[arg-type]
    else:
        result = split_lists(assign_split(index, args.method))
        summary = ", ".join(f"{k} {len(v)}" for k, v in result.items())  # type: ignore[union-attr]
    text = json.dumps(result, indent=2)
    if args.out:
        from totalseg.io.atomic import atomic_write_text

        atomic_write_text(args.out, text + "\n")
        print(f"{args.method}: {summary}; wrote {args.out}")
    else:
        print(text)
        print(f"{args.method}: {summary}", file=sys.stderr)
    return 0


def run_manifest(args: argparse.Namespace) -> int:
    from totalseg.dataset.manifest import write_manifest

    report = write_manifest(_index(args), args.out, every=args.every, offset=args.offset, split=args.split,
                            cache_dir=_cache_dir(args), workers=args.workers, progress=not args.quiet)
    _report_skipped(report.scan.skipped, report.scan.missing_masks)
    print(f"wrote {report.path}: {report.rows} slices of {report.subjects} subjects")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from totalseg.dataset.scan import scan_dataset
    from totalseg.dataset.stats import label_stats
    from totalseg.dataset.tables import markdown_table, write_table

    scan = scan_dataset(_index(args), cache_dir=_cache_dir(args), workers=args.workers, progress=not args.quiet)
    _report_skipped(scan.skipped, scan.missing_masks)
    table = label_stats(scan)
    print(markdown_table(table))
    if args.out:
        write_table(table, args.out)
        print(f"wrote {args.out}")
    return 0


def run_cache(args: argparse.Namespace) -> int:
    from totalseg.dataset.cache import ArrayCache, default_array_dir
    from totalseg.dataset.nnunet import resolve_classes

    index = _index(args)
    groups = _read_groups(args.groups) if args.groups else None
    classes = resolve_classes(index, args.label_map) if args.label_map else None
    cache = ArrayCache(index, args.cache or default_array_dir(args.root), classes=classes, groups=groups)
    skipped = cache.build(labels=not args.images_only, workers=args.workers, progress=not args.quiet)
    _report_skipped(skipped, [])
    what = "images" if args.images_only else f"images and label maps ({len(cache.label_map)} labels)"
    print(f"cached {what} of {len(index.subjects) - len(skipped)} subjects in {cache.cache_dir}")
    return 0


def _read_groups(path: Path) -> dict[str, list[str]]:
    try:
        groups = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the class grouping ({exc}); pass a JSON file") from None
    if not isinstance(groups, dict) or not all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for v in groups.values()
    ):
        raise InputError(f'{path}: expected {{"new name": ["mask name", ...], ...}}')
    return groups


def run_to_nnunet(args: argparse.Namespace) -> int:
    from totalseg.dataset.nnunet import to_nnunet

    report = to_nnunet(_index(args), args.out, classes=args.labels, fmt=args.format, split=args.split,
                       workers=args.workers, progress=not args.quiet)
    _report_skipped(report.skipped, report.missing_masks)
    print(f"wrote {report.out}: {len(report.written['Tr'])} training and {len(report.written['Ts'])} test cases")
    return 0
