"""The names of a prototype's parts (``core.model.terms``), without torch.

A head file's prototype terms are entries named ``<part>_weight``, ``<part>_mean`` and
``<part>_scale``; ``core.model.heads.verify_file`` checks a file's entries without importing
torch, so the names live here.
"""

from __future__ import annotations

#: The parts of the appearance descriptor (``core.model.appearance``), in its order.
APPEARANCE_PARTS = ("colour", "layout", "middle")
#: Every part a prototype can read, in the order a head holds them.
PARTS = ("power", "semantic", *APPEARANCE_PARTS)
#: What a part's entries in a head file hold.
ENTRIES = ("weight", "mean", "scale")
#: The patch term's entries (``core.model.patches.PatchTerm``).
PATCH_ENTRIES = ("patches_weight", "patches_mean")


def is_part_entry(key: str) -> bool:
    """Whether ``key`` names a prototype part's or the patch term's entry in a head file."""
    name, _, what = key.rpartition("_")
    return (name in PARTS and what in ENTRIES) or key in PATCH_ENTRIES
