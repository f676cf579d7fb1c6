"""Per-frame costs for the scaling estimate (docs/scaling.rst) that the other benchmarks lack.

Each line is a ratio against a baseline measured in the same run:

* ``resume check``  - what a re-run of ``euv2mag download`` spends on a file already present
  (SHA-256 + FITS completeness check, :func:`euv2mag.data.download._keep`) vs reading its bytes;
* ``sdoml frame``   - preparing one 512^2 SDOML frame into a 512^2 store frame
  (:func:`euv2mag.data.fits.prepare_header` of a ``source="sdoml"`` header) vs reading it from Zarr;
* ``train FLOPs``   - floating-point operations of one pix2pix training iteration (generator
  forward, discriminator on real and fake, both backward passes; batch 1, ngf = ndf = 64),
  counted with :class:`torch.utils.flop_counter.FlopCounterMode` on the meta device (no arithmetic
  is done), at 256^2 and 1024^2; the ratio 1024^2 / 256^2 is what the scaling doc uses to carry
  a measured 256^2 it/s to 1024^2; the generator forward alone is the prediction cost.

Usage: ``python benchmarks/scaling_costs.py [HMI_FITS] [--repeat 3]``
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))


def _median(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def resume_check(path: Path, repeat: int):
    from euv2mag.data.download import _keep, sha256_file

    row = {"status": "present", "bytes": path.stat().st_size, "sha256": sha256_file(path)}
    check = _median(lambda: _keep(path, row), repeat)
    read = _median(lambda: path.read_bytes(), repeat)
    mb = path.stat().st_size / 1e6
    print(f"resume check: {check:.3f} s per {mb:.1f} MB file = {check / read:.1f}x reading it ({read:.3f} s)")


def sdoml_frame(repeat: int):
    import numpy as np
    import zarr

    import fits_factory as ff
    from euv2mag.data.fits import prepare_header
    from euv2mag.data.sdoml import read_sdoml_frame, read_sdoml_headers

    with tempfile.TemporaryDirectory() as tmp:
        header = ff.make_header("hmi", n=512, time="2016-07-07T01:00:08.000")
        array = zarr.open_group(f"{tmp}/s.zarr", mode="w", zarr_format=2).require_group("2016").create_array(
            "Bz", shape=(1, 512, 512), chunks=(1, 512, 512), dtype="float32")
        array[0] = ff.make_image(header, 512).astype(np.float32)
        array.attrs.update({k: [header[k]] for k in header if k not in ("COMMENT", "HISTORY")})
        head = read_sdoml_headers(f"{tmp}/s.zarr", "hmi")[0][0]
        prep = _median(lambda: prepare_header(head, 512), repeat)
        read = _median(lambda: read_sdoml_frame(head), repeat)
    print(f"sdoml frame: {prep:.3f} s per 512^2 frame -> 512^2 = {prep / read:.0f}x its Zarr read ({read:.4f} s)")


def train_flops():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from euv2mag.model.pix2pix import PatchDiscriminator, UNetGenerator

    flops = {}
    for size in (256, 1024):
        with torch.device("meta"):
            g = UNetGenerator(size, 1, 1, ngf=64)
            d = PatchDiscriminator(2, ndf=64)
            x = torch.randn(1, 1, size, size)
            y = torch.randn(1, 1, size, size)
        with FlopCounterMode(display=False) as counter:
            fake = g(x)
            loss_d = d(torch.cat([x, fake.detach()], 1)).mean() + d(torch.cat([x, y], 1)).mean()
            loss_d.backward()
            loss_g = d(torch.cat([x, fake], 1)).mean() + (fake - y).abs().mean()
            loss_g.backward()
        flops[size] = counter.get_total_flops()
        with FlopCounterMode(display=False) as forward, torch.no_grad():
            g(x)
        print(f"train FLOPs: {flops[size] / 1e9:.0f} GFLOP per iteration at {size}^2 "
              f"(prediction: {forward.get_total_flops() / 1e9:.0f} GFLOP per frame)")
    print(f"train FLOPs: 1024^2 / 256^2 = {flops[1024] / flops[256]:.1f}x")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fits", nargs="?", default=str(REPO.parent / "shared" / "data" / "hmi" / "hmi_m_720s_20160707_010000_TAI.fits"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if Path(args.fits).is_file():
        resume_check(Path(args.fits), args.repeat)
    else:
        print(f"resume check: skipped, no file {args.fits}")
    sdoml_frame(args.repeat)
    train_flops()
    return 0


if __name__ == "__main__":
    sys.exit(main())
