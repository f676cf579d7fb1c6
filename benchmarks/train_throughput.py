"""Training and prediction throughput of euv2mag's pix2pix against the reference PyTorch pix2pix.

What is timed (batch 1, 1 -> 1 channel, ngf = ndf = 64 unless told otherwise)
    * a training iteration: one discriminator step + one generator step on fixed random tensors,
      with one shared generator forward (the reference's ``optimize_parameters``); KPL19's
      two-forward mode is reported separately;
    * prediction: one generator forward without gradients (frames/s), in KPL19 mode
      (batch-stat BN, dropout on; the reference's default ``test.py`` behaviour);
    * peak memory: the peak resident set (``ru_maxrss``, whole process including the ~0.3 GiB of
      torch itself) of a fresh subprocess that runs two iterations of one variant (CPU), or
      ``torch.cuda.max_memory_allocated`` (GPU).

The reference is junyanz/pytorch-CycleGAN-and-pix2pix (commit 2a7afba), driven in-process
through its ``models/`` package (``Pix2PixModel`` with ``--netG unet_256 --netD basic --norm
batch --gan_mode vanilla --lambda_L1 100``; its ``UnetGenerator(num_downs=log2 N)`` at other
sizes).  Give its checkout with ``--peer DIR`` or ``EUV2MAG_PEER_PIX2PIX``; without it the
comparison is skipped with a message.  Never vendor it into this repository.

The variants run **interleaved in one process** (one iteration of each in turn, medians over
rounds), so that the load of a shared machine hits them alike; the ratio is against the
reference measured in the same run.  Variants of ours:
    ``ours``        the default training path: fp32, denormals flushed to zero on the CPU
                    (values below 1.2e-38 become 0; they otherwise slow Adam's sqrt/div and the
                    convolutions by large factors once gradients get small), fused Adam
                    (``TrainConfig.flush_denormal`` / ``fused_adam``) and, on the CPU, the
                    innermost decoder convolutions as one matrix product + col2im
                    (:class:`euv2mag.model.pix2pix.UpConv`); channels-last with ``--channels-last``;
    ``ours-plain``  the same networks with the reference's arithmetic: no flushing, multi-tensor
                    Adam (``--no-flush-denormal --no-fused-adam``), oneDNN's transposed
                    convolution everywhere;
    ``ours-2fwd``   KPL19's separate generator forward per step (more work; not comparable).
The reference runs with denormals kept, as it does by default.

Usage::

    python benchmarks/train_throughput.py --size 256 --rounds 12 --peer /work/scratch/peer
    python benchmarks/train_throughput.py --device cuda --precision bf16 --size 1024   # on a GPU machine
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import torch


def make_peer(peer_dir: str, size: int, device: torch.device, ngf: int):
    """The reference Pix2PixModel configured as KPL19 (in-process, no torchvision needed)."""
    sys.path.insert(0, str(peer_dir))
    from models import networks
    from models.pix2pix_model import Pix2PixModel

    opt = types.SimpleNamespace(
        isTrain=True, checkpoints_dir=tempfile.mkdtemp(prefix="peer"), name="bench", device=device,
        preprocess="none", input_nc=1, output_nc=1, ngf=ngf, ndf=ngf, netG="unet_256", netD="basic",
        norm="batch", no_dropout=False, init_type="normal", init_gain=0.02, n_layers_D=3, gan_mode="vanilla",
        lr=0.0002, beta1=0.5, lambda_L1=100.0, direction="AtoB", continue_train=False, load_iter=0,
        epoch="latest", verbose=False, lr_policy="linear", epoch_count=1, n_epochs=1, n_epochs_decay=0,
        lr_decay_iters=50,
    )
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        model = Pix2PixModel(opt)
        if size != 256:
            norm = networks.get_norm_layer("batch")
            model.netG = networks.UnetGenerator(1, 1, int(math.log2(size)), ngf, norm_layer=norm, use_dropout=True)
            networks.init_weights(model.netG, "normal", init_gain=0.02)  # the reference's N(0, 0.02) init, as init_net does
            model.optimizer_G = torch.optim.Adam(model.netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
            model.optimizers = [model.optimizer_G, model.optimizer_D]
        model.setup(opt)
    model.netG.to(device)
    model.netD.to(device)

    def train_step(x, y):
        model.set_input({"A": x, "B": y, "A_paths": ["bench"]})
        model.optimize_parameters()

    def predict(x):
        with torch.no_grad():
            return model.netG(x)

    return train_step, predict


def make_ours(size: int, device: torch.device, ngf: int, precision: str, *, plain: bool, channels_last: bool,
              two_forward: bool = False):
    from euv2mag.model.config import TrainConfig
    from euv2mag.model.pix2pix import UpConv, set_inference_mode
    from euv2mag.model.train import Pix2PixTrainer

    cfg = TrainConfig(ngf=ngf, ndf=ngf, precision=precision, channels_last=channels_last and not plain,
                      two_forward=two_forward, flush_denormal=not plain, fused_adam=not plain).resolved(size)
    trainer = Pix2PixTrainer(cfg, device)  # its step() sets the denormal flag it is configured for
    if plain:  # the reference's native transposed convolutions everywhere
        for module in trainer.G.modules():
            if isinstance(module, UpConv):
                module.gemm_max_side = 0
    mf = trainer.memory_format

    def train_step(x, y):
        trainer.step(x.contiguous(memory_format=mf), y.contiguous(memory_format=mf))

    def predict(x):
        g = trainer.G
        set_inference_mode(g, "kpl19")
        with torch.no_grad():
            out = g(x.contiguous(memory_format=mf))
        g.train()
        return out

    return train_step, predict


def build(name: str, args, device):
    if name == "peer":
        return make_peer(args.peer, args.size, device, args.ngf)
    return make_ours(args.size, device, args.ngf, args.precision, plain=name == "ours-plain",
                     channels_last=args.channels_last, two_forward=name == "ours-2fwd")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _flush(name: str, args) -> None:
    # denormal flushing is process-wide; our trainer sets its own flag in every step, the
    # reference runs with PyTorch's default (denormals kept)
    if name == "peer":
        torch.set_flush_denormal(False)


def measure(args) -> dict:
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = (torch.rand(1, 1, args.size, args.size) * 2 - 1).to(device)
    y = (torch.rand(1, 1, args.size, args.size) * 2 - 1).to(device)
    names = ["ours", "ours-plain", "ours-2fwd"] + (["peer"] if args.peer else [])
    variants = {}
    for name in names:
        torch.manual_seed(0)
        variants[name] = build(name, args, device)
    train_times = {n: [] for n in names}
    pred_times = {n: [] for n in names}
    for round_ in range(args.warmup + args.rounds):
        for name in names:
            _flush(name, args)
            step, predict = variants[name]
            _sync(device)
            t0 = time.perf_counter()
            step(x, y)
            _sync(device)
            t1 = time.perf_counter()
            predict(x)
            _sync(device)
            t2 = time.perf_counter()
            if round_ >= args.warmup:
                train_times[name].append(t1 - t0)
                pred_times[name].append(t2 - t1)
    torch.set_flush_denormal(False)
    out = {}
    for name in names:
        out[name] = {
            "train_it_per_s": 1.0 / statistics.median(train_times[name]),
            "predict_frames_per_s": 1.0 / statistics.median(pred_times[name]),
        }
    return out


def peak_memory(name: str, args) -> float:
    """Peak memory in MiB of two iterations of one variant in a fresh process."""
    cmd = [sys.executable, __file__, "--worker", name, "--size", str(args.size), "--ngf", str(args.ngf),
           "--device", args.device, "--precision", args.precision]
    if args.peer:
        cmd += ["--peer", args.peer]
    if args.channels_last:
        cmd.append("--channels-last")
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(res.stdout.strip().splitlines()[-1])["peak_mib"])


def worker(args) -> None:
    device = torch.device(args.device)
    _flush(args.worker, args)
    step, predict = build(args.worker, args, device)
    x = (torch.rand(1, 1, args.size, args.size) * 2 - 1).to(device)
    for _ in range(2):
        step(x, x)
        predict(x)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"peak_mib": peak}))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--rounds", type=int, default=12, help="timed rounds (one iteration of each variant per round)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    p.add_argument("--channels-last", action="store_true", help="channels-last in the ours variant")
    p.add_argument("--peer", default=os.environ.get("EUV2MAG_PEER_PIX2PIX"),
                   help="checkout of junyanz/pytorch-CycleGAN-and-pix2pix (or EUV2MAG_PEER_PIX2PIX)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.peer and not (Path(args.peer) / "models" / "pix2pix_model.py").is_file():
        print(f"reference pix2pix not found at {args.peer}; comparison skipped")
        args.peer = None
    elif not args.peer:
        print("reference pix2pix not given (--peer or EUV2MAG_PEER_PIX2PIX); comparison skipped")
    if args.worker:
        worker(args)
        return 0
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device here; nothing measured")
        return 0
    if args.device == "cpu" and args.precision == "fp16":
        print("fp16 needs CUDA")
        return 2
    names = ["ours", "ours-plain", "ours-2fwd"] + (["peer"] if args.peer else [])
    # Memory first: a child forked from a process that already holds every model would inherit
    # that high-water mark in ru_maxrss.
    memory = {} if args.no_memory else {name: peak_memory(name, args) for name in names}
    results = measure(args)
    for name in results:
        results[name]["peak_memory_mib"] = memory.get(name, float("nan"))
    base = results.get("peer")
    print(f"size {args.size}, ngf {args.ngf}, device {args.device}, precision {args.precision}, "
          f"threads {torch.get_num_threads()}, torch {torch.__version__}, rounds {args.rounds}")
    print(f"{'variant':<11}{'train it/s':>12}{'vs peer':>9}{'predict fr/s':>14}{'vs peer':>9}{'peak MiB':>10}")
    for name, r in results.items():
        rt = r["train_it_per_s"] / base["train_it_per_s"] if base else float("nan")
        rp = r["predict_frames_per_s"] / base["predict_frames_per_s"] if base else float("nan")
        print(f"{name:<11}{r['train_it_per_s']:>12.3f}{rt:>9.2f}{r['predict_frames_per_s']:>14.2f}{rp:>9.2f}"
              f"{r.get('peak_memory_mib', float('nan')):>10.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
