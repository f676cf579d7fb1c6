"""Models that generate magnetograms from EUV images: KPL19's pix2pix and an improved variant.

* :mod:`.pix2pix` — the U-Net generator and 70x70 PatchGAN discriminator of KPL19 (any power-of-two size).
* :mod:`.losses` — GAN (BCE with logits / LSGAN), L1 and the multi-scale correlation (CC/CCC) loss.
* :mod:`.config` — :class:`~.config.TrainConfig`, the frozen, TOML-round-tripping run configuration.
* :mod:`.train` — the training loop (seeds, checkpoints, bit-exact resume, validation, best checkpoint).
* :mod:`.predict` — magnetograms in G from a trained run, written to a prediction store and FITS.

torch is imported by these modules; import them only where torch is needed.
"""
