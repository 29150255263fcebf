"""Models: the task registry, the weights store (find, download, import, verify) and the loader
that turns an nnU-Net v2 model folder into a ready network without executing pickled code."""
