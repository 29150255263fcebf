"""Training nnU-Net v2-compatible models from an nnU-Net raw dataset (``totalseg train``): the raw
dataset reader and splits (``raw``), the dataset fingerprint and experiment planner that choose
spacing, patch size, network depth and batch size (``fingerprint``, ``planner``), preprocessing
cached to disk with the inference pipeline's own resampling and normalization (``preprocessing``),
augmentations that sample their parameters first and apply them second (``augment``), the patch
loader with foreground oversampling (``loader``), Dice + cross-entropy with deep supervision
(``loss``), the training loop with SGD, poly learning rate, AMP, checkpoints and resume
(``trainer``), the per-epoch log and curve plot (``progress``), the model-folder writer
(``export``) and CT-like phantom datasets for tests and benchmarks (``phantom``)."""
