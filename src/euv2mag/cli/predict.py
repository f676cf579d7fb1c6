"""``euv2mag predict RUN STORE --out PRED.zarr``: magnetograms in G from a trained run."""
from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "predict",
        help="generate magnetograms (G) from EUV frames with a trained run",
        description="Generate magnetograms in G (inverse of the run's scaling, NaN off the disk) for frames "
        "of a store with the checkpoint of a training run (runs/NAME/seed-K), into a prediction store "
        "(array 'pred', plus copies of 'mag' and 'euv' of the same frames) with the input's time and "
        "geometry arrays; optionally one FITS file per frame.",
    )
    p.add_argument("run", help="run folder runs/NAME/seed-K")
    p.add_argument("store", help="store with an 'euv' array (same image size as the run)")
    p.add_argument("--out", required=True, help="output prediction store (Zarr folder)")
    p.add_argument("--indices", default="test",
                   help="frames: test, val, train (need --split), all, or a comma list such as 3,7,9 (default test)")
    p.add_argument("--split", help="split JSON (for --indices test/val/train)")
    p.add_argument("--checkpoint", default="best", help="best (default), last, or a checkpoint file name in the run")
    p.add_argument("--inference-mode", choices=("kpl19", "eval"),
                   help="kpl19: batch-stat BN and active (seeded) dropout as KPL19; eval: running stats, no dropout "
                   "(default: the run's setting)")
    p.add_argument("--fits-dir", help="also write one FITS file per frame into this folder")
    p.add_argument("--no-copy-inputs", action="store_true", help="do not copy 'mag' and 'euv' into the output store")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..model.predict import predict_run

    out = predict_run(
        args.run, args.store, args.out, indices=args.indices, split=args.split, checkpoint=args.checkpoint,
        inference_mode=args.inference_mode, fits_dir=args.fits_dir, copy_inputs=not args.no_copy_inputs,
        device=args.device,
    )
    print(f"wrote {out}" + (f" and FITS files in {args.fits_dir}" if args.fits_dir else ""))
    return 0
