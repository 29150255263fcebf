"""Segmentation quality the way the TotalSegmentator papers measure it: per subject and class Dice
and normalized surface Dice (NSD) at a tolerance in millimetres, using each image's real voxel
spacing (``metrics``), and the folder-level evaluation behind ``totalseg evaluate`` that pairs
ground-truth and predicted label maps, summarises them per class and writes JSON/CSV (``evaluate``)."""

from totalseg.evaluation.metrics import dice, label_metrics, normalized_surface_dice

__all__ = ["dice", "label_metrics", "normalized_surface_dice"]
