"""The inference engine: nnU-Net's preprocessing, the sliding-window predictor (tile grid, Gaussian
blending with nnU-Net's exact fp16 arithmetic) and the segment pipeline that ties models, geometry
and outputs together. Everything runs in memory, in this process."""
