"""Gradient-boosted tree ensembles of the official phase and modality classifiers, without xgboost.

The official tool ships two kinds of xgboost models:

- ``contrast_phase_classifiers_2024_07_19.pkl``: a pickled ``{fold: XGBRegressor}``. Unpickling
  runs code named by the file, so we never do it: :func:`read_pickled_boosters` walks the pickle's
  opcodes with :func:`pickletools.genops` (which parses and executes nothing) and takes the five
  ``BINBYTES`` blobs, each an xgboost booster saved as UBJSON ``{"Config", "Model"}``;
- ``modality_classifiers*_2025_02_24.json.<fold>``: plain xgboost UBJSON model files (despite the
  ``.json`` name), read by :func:`read_model_file`.

:meth:`Forest.margin` predicts as xgboost's CPU predictor does, which makes it bit-identical to it
(tests/measure/test_forest.py checks against the official tool's own predictions): the features
are cast to float32; at each node a missing (NaN) value goes the node's default way, otherwise
left when ``x < split_condition`` (float32); a leaf's value is its ``split_condition``; the leaf
values of the trees are added in tree order to the float32 base margin.
"""

from __future__ import annotations

import os
import pickletools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from totalseg.errors import InputError
from totalseg.measure.ubjson import decode

OBJECTIVES = ("reg:squarederror", "binary:logistic")


@dataclass(frozen=True)
class Forest:
    """A boosted ensemble: ``margin = base_margin + one leaf value per tree``, added in tree order
    in float32.

    The trees are stored as xgboost stores them, one row per tree padded to the largest tree:
    node 0 is the root and a leaf has ``left == -1``.

    Examples:
        >>> stump = dict(left=[1, -1, -1], right=[2, -1, -1], feature=[0, 0, 0], threshold=[0.5, -1.0, 2.0],
        ...              default_left=[False] * 3)
        >>> forest = Forest.from_trees([stump, stump], base_margin=0.25)
        >>> forest.margin(np.array([[0.0], [1.0], [np.nan]])).tolist()
        [-1.75, 4.25, 4.25]
    """

    left: np.ndarray  # (trees, nodes) int32
    right: np.ndarray  # (trees, nodes) int32
    feature: np.ndarray  # (trees, nodes) int32
    threshold: np.ndarray  # (trees, nodes) float32: the split value, or the leaf value at a leaf
    default_left: np.ndarray  # (trees, nodes) bool: where a missing value goes
    base_margin: np.float32
    objective: str = "reg:squarederror"
    feature_names: tuple[str, ...] = ()

    @classmethod
    def from_trees(cls, trees: list[dict], *, base_margin: float, objective: str = "reg:squarederror",
                   feature_names: tuple[str, ...] = ()) -> Forest:
        """Stack trees given as ``left``, ``right``, ``feature``, ``threshold``, ``default_left`` lists."""
        size = max(len(t["left"]) for t in trees)

        def stack(key: str, dtype, pad) -> np.ndarray:
            out = np.full((len(trees), size), pad, dtype=dtype)
            for row, tree in zip(out, trees):
                row[: len(tree[key])] = np.asarray(tree[key], dtype=dtype)
            return out

        return cls(stack("left", np.int32, -1), stack("right", np.int32, -1), stack("feature", np.int32, 0),
                   stack("threshold", np.float32, 0), stack("default_left", bool, False), np.float32(base_margin),
                   objective, feature_names)

    @classmethod
    def from_model(cls, model: dict) -> Forest:
        """The forest of an xgboost model document (``{"learner": ...}``, as ``save_model`` writes it)."""
        try:
            learner = model["learner"]
            objective = learner["objective"]["name"]
            base_score = np.float32(str(learner["learner_model_param"]["base_score"]).strip("[]"))
            booster = learner["gradient_booster"]
            trees = [_tree(t) for t in booster["model"]["trees"]]
            names = tuple(learner.get("feature_names", ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not an xgboost tree model (missing {exc}); expected the official classifier files") \
                from None
        if booster.get("name") != "gbtree" or objective not in OBJECTIVES or not trees:
            raise InputError(f"unsupported xgboost model ({booster.get('name')}, {objective}); "
                             f"expected a gbtree with one of {', '.join(OBJECTIVES)}")
        if objective == "binary:logistic":  # xgboost keeps the base score as a probability
            one = np.float32(1)
            base_margin = np.float32(-np.log(one / base_score - one))
        else:
            base_margin = base_score
        return cls.from_trees(trees, base_margin=base_margin, objective=objective, feature_names=names)

    def margin(self, features: np.ndarray) -> np.ndarray:
        """The raw score of each row of ``features`` (n, n_features), float32 (n,)."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float32))
        trees = np.arange(len(self.left))[None, :]
        node = np.zeros((len(x), len(self.left)), dtype=np.int64)  # (rows, trees)
        while (inner := self.left[trees, node] >= 0).any():
            value = np.take_along_axis(x, self.feature[trees, node], axis=1)
            go_left = np.where(np.isnan(value), self.default_left[trees, node], value < self.threshold[trees, node])
            step = np.where(go_left, self.left[trees, node], self.right[trees, node])
            node = np.where(inner, step, node)
        terms = np.concatenate([np.full((len(x), 1), self.base_margin, np.float32), self.threshold[trees, node]], 1)
        return np.cumsum(terms, axis=1, dtype=np.float32)[:, -1]  # cumsum adds strictly in order

    def predict(self, features: np.ndarray) -> np.ndarray:
        """What the scikit-learn wrapper's ``predict`` returns: the regression value (float32), or the
        class label (0/1, int64) of a ``binary:logistic`` classifier (probability above 0.5)."""
        margin = self.margin(features)
        if self.objective == "reg:squarederror":
            return margin
        one = np.float32(1)
        with np.errstate(over="ignore"):
            probability = one / (one + np.exp(-margin))
        return (probability > np.float32(0.5)).astype(np.int64)


def read_model_file(path: str | os.PathLike) -> Forest:
    """The forest of an xgboost UBJSON model file (what ``Booster.save_model("x.ubj")`` writes)."""
    return Forest.from_model(decode(Path(path).read_bytes()))


def read_pickled_boosters(path: str | os.PathLike, *, expected: int | None = None) -> list[Forest]:
    """The forests in a pickled dict of xgboost scikit-learn models, in the dict's order, without
    unpickling: only the booster blobs are taken from the opcode stream.

    Raises:
        InputError: not a pickle, or it holds no (or not ``expected``) booster blobs.
    """
    data = Path(path).read_bytes()
    try:
        blobs = [arg for op, arg, _ in pickletools.genops(data)
                 if op.name in ("BINBYTES", "BINBYTES8", "SHORT_BINBYTES") and bytes(arg[:1]) == b"{"]
    except ValueError as exc:
        raise InputError(f"{path}: not a readable pickle ({exc}); fetch the classifier file again") from None
    if not blobs or (expected is not None and len(blobs) != expected):
        raise InputError(f"{path}: expected {expected or 'some'} xgboost boosters, found {len(blobs)}; "
                         "fetch the official classifier file again")
    models = [decode(blob) for blob in blobs]
    if not all(isinstance(m, dict) and "Model" in m for m in models):
        raise InputError(f"{path}: a booster blob without its model; fetch the official classifier file again")
    return [Forest.from_model(m["Model"]) for m in models]


def _tree(tree: dict) -> dict:
    if np.any(np.asarray(tree.get("split_type", [])) != 0):
        raise InputError("categorical splits are not supported; expected numerical xgboost trees")
    return {"left": tree["left_children"], "right": tree["right_children"], "feature": tree["split_indices"],
            "threshold": tree["split_conditions"], "default_left": tree["default_left"]}
