"""The papers' published numbers (docs/papers-recipe.md §1.6, §2.6, §3.1), for comparison tables.

Each row is (P, R, F1, N+, mAP) on the test set with the papers' metric conventions
(``trainer.learning.metrics``); mAP is ``None`` where the paper does not report it. All are
TResNet-M at 448 px except VG-500 (TResNet-L v2, 576 px).
"""

from __future__ import annotations

Row = tuple[float, float, float, int, float | None]

_LOSS_PAPER = "Salar & Ahmadi 2023 (Improving loss function), README"
_ATTENTION_PAPER = "Salar & Ahmadi 2024 (attention-based pooling), README"
_BASELINES = "parham1998/CNN_Image_Annotaion README (80 epochs, stopped at 60)"

# (dataset, head, loss) -> [(row name, numbers, source)]
PUBLISHED: dict[tuple[str, str, str], list[tuple[str, Row, str]]] = {
    ("Corel-5k", "linear", "proposed"): [
        ("thr 0.5", (0.466, 0.554, 0.506, 189, None), _LOSS_PAPER),
        ("+MCC", (0.484, 0.563, 0.520, 191, None), _LOSS_PAPER),
    ],
    ("IAPR-TC-12", "linear", "proposed"): [
        ("thr 0.5", (0.503, 0.562, 0.531, 285, None), _LOSS_PAPER),
        ("+MCC", (0.562, 0.515, 0.537, 277, None), _LOSS_PAPER),
    ],
    ("ESP-Game", "linear", "proposed"): [
        ("thr 0.5", (0.423, 0.484, 0.452, 261, None), _LOSS_PAPER),
        ("+MCC", (0.508, 0.421, 0.461, 255, None), _LOSS_PAPER),
    ],
    ("Corel-5k", "linear", "bce"): [
        ("thr 0.5", (0.453, 0.385, 0.416, 147, None), _BASELINES),
        ("+MCC", (0.445, 0.451, 0.448, 164, None), _BASELINES),
    ],
    ("Corel-5k", "linear", "focal"): [
        ("thr 0.5", (0.452, 0.366, 0.405, 139, None), _BASELINES),
        ("+MCC", (0.483, 0.451, 0.466, 162, None), _BASELINES),
    ],
    ("Corel-5k", "linear", "asl"): [
        ("thr 0.5", (0.480, 0.522, 0.500, 179, None), _BASELINES),
        ("+MCC", (0.473, 0.535, 0.502, 184, None), _BASELINES),
    ],
    ("Corel-5k", "attention", "proposed"): [
        ("thr 0.5", (0.453, 0.611, 0.520, 202, None), _ATTENTION_PAPER),
    ],
    ("IAPR-TC-12", "attention", "proposed"): [
        ("thr 0.5", (0.515, 0.584, 0.547, 287, None), _ATTENTION_PAPER),
    ],
    ("ESP-Game", "attention", "proposed"): [
        ("thr 0.5", (0.442, 0.500, 0.470, 262, None), _ATTENTION_PAPER),
    ],
    ("VG-500", "attention", "proposed"): [
        ("thr 0.5", (0.409, 0.502, 0.451, 477, 42.515), _ATTENTION_PAPER),
    ],
}


def published_rows(dataset: str, head: str, loss: str) -> list[tuple[str, Row, str]]:
    """The published rows for this setting; empty when the papers report none."""
    return list(PUBLISHED.get((dataset, head, loss), []))
