"""``euv2mag demo --out DIR``: the whole reliability study on the synthetic Sun, then the report."""
from __future__ import annotations

import argparse

from . import nonnegative_float, nonnegative_int, positive_int, power_of_two


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the whole study on the synthetic Sun (no downloads) and write DIR/report.html",
        description="Synthesise a multi-year dataset (and the same Sun with a polarity leak), make the kpl19 "
        "and rotation splits, run the saturation and leakage studies, train the main configuration (cc variant "
        "with coordinate channels) with several seeds, the faithful KPL19 configuration as the reference run "
        "and the leak control, predict the test frames, audit them and write the report. "
        "Progress is shown per stage; re-running resumes finished stages. The default is sized for 15 minutes "
        "on 2 CPU cores, --quick for 3; use a larger --size/--iters/--ngf on a GPU. --farside adds the far-side "
        "study of the first main run (observers at 60, 120 and 180 deg from Earth) and its report section.",
    )
    p.add_argument("--out", required=True, help="study folder (created; re-running resumes)")
    p.add_argument("--quick", action="store_true", help="a small first look (64 px, 1.5 years, short training)")
    p.add_argument("--extended", action="store_true",
                   help="the default study with 5x longer training (15000 iterations per run) and the |B| CC loss "
                   "weighted 20 (sized for 60 minutes on 2 CPU cores)")
    p.add_argument("--size", type=power_of_two, help="image side in px (default 128; quick 64)")
    p.add_argument("--iters", type=positive_int, help="training iterations per run (default 3000; quick 120)")
    p.add_argument("--ngf", type=positive_int, help="generator base filters (default 16; quick 8; KPL19 64)")
    p.add_argument("--ndf", type=positive_int, help="discriminator base filters (default 16; quick 8; KPL19 64)")
    p.add_argument("--seeds", type=int, nargs="+", help="training seeds of the main runs (default 0 1 2)")
    p.add_argument("--variant", choices=("kpl19", "cc"), help="preset of the main runs and the control (default cc)")
    p.add_argument("--coord-channels", action=argparse.BooleanOptionalAction, default=None,
                   help="sin(latitude) and mu input channels for the main runs and the control (default on)")
    p.add_argument("--lambda-abs-cc", type=nonnegative_float,
                   help="weight of the sign-blind CC loss of |B| in the main runs and the control (default 5)")
    p.add_argument("--lambda-l1", type=nonnegative_float,
                   help="weight of the L1 loss in the main runs and the control (default 100)")
    p.add_argument("--lr-schedule", choices=("constant", "linear"),
                   help="learning rate of the main runs and the control: constant, or linear decay to 0 over the "
                   "second half (default constant); the KPL19 reference keeps KPL19's constant rate")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="autocast precision of all runs (default fp32)")
    p.add_argument("--start", help="first frame (default 2011-01-01; quick 2012-06-01)")
    p.add_argument("--end", help="last frame (default 2014-12-31; quick 2013-11-30)")
    p.add_argument("--cadence", help="frame spacing (default 48h; quick 96h)")
    p.add_argument("--polarity-leak", type=nonnegative_float, help="leak of the control dataset (default 0.5)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), help="training device (default auto)")
    p.add_argument("--n-boot", type=nonnegative_int,
                   help="block-bootstrap replicates of every audit's intervals (default 1000; quick 200; 0: none)")
    p.add_argument("--farside", action="store_true", default=None,
                   help="add the far-side stage: the first main run seen from observers at 0, 60, 120 and 180 deg "
                   "from Earth beside persistence (DIR/farside; not in the default 15 minutes)")
    p.add_argument("--processes", type=positive_int,
                   help="worker processes running the stages' calls side by side, each on one CPU thread "
                   "(default: one per CPU core; with --extended one per training run; the numbers do not depend on it)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..demo import demo_options, run_demo

    options = demo_options(
        quick=args.quick, extended=args.extended, size=args.size, iters=args.iters, ngf=args.ngf, ndf=args.ndf, seeds=args.seeds,
        start=args.start, end=args.end, cadence=args.cadence, polarity_leak=args.polarity_leak, device=args.device,
        variant=args.variant, coord_channels=args.coord_channels, precision=args.precision,
        lambda_abs_cc=args.lambda_abs_cc, lambda_l1=args.lambda_l1, lr_schedule=args.lr_schedule,
        farside=args.farside, n_boot=args.n_boot,
    )
    path = run_demo(args.out, options, processes=args.processes)
    print(f"report: {path}")
    return 0
