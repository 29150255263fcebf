"""The inference engine: nnU-Net's preprocessing, the sliding-window predictor (tile grid, Gaussian
blending with nnU-Net's exact fp16 arithmetic), the network's forward pass with skips freed early,
the C-heap settings for CPU inference, and the segment pipeline that ties models, geometry and
outputs together. Everything runs in memory, in this process."""
