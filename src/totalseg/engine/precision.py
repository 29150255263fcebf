"""The numeric precisions inference can run in (no torch import: the command line reads this)."""

from __future__ import annotations

PRECISIONS = ("nnunet", "fp32", "bf16")
"""``nnunet``: fp32 network and nnU-Net's fp16 accumulation, masks identical to the official tool
(the default); ``fp32``: fp32 accumulation; ``bf16``: the network in bfloat16 (opt-in, faster on
CPUs with AVX-512 BF16 or AMX, masks not identical)."""
