"""A guard against a reference-counting bug of PySide6 6.12 on CPython 3.11.

Measured here (PySide6 6.12.0, CPython 3.11.7): every call of a wrapped ``void`` method
(``QLabel.setText``, ``QWidget.setVisible``...) and every invalid ``QVariant`` handed to Python
drops one reference to ``None`` that it never took; every ``Signal.emit`` does the same to
``True``. From CPython 3.12 these objects are immortal and nothing happens, which is probably
why the bindings get away with it; on 3.11 the interpreter aborts with "Fatal Python error:
none_dealloc" once the count reaches zero. A fresh process holds only about 3,700 references
to ``None`` and 60 to ``True``: a window dies within seconds.

The guard gives these singletons the huge reference count CPython 3.12 gives every immortal
object, so the missing references never matter. It does nothing on 3.12 and later, on other
interpreters, or when the object layout is not the one expected.
"""

from __future__ import annotations

import ctypes
import logging
import sys

logger = logging.getLogger(__name__)

_HUGE = 1 << 40
_SINGLETONS = (None, True, False, Ellipsis, NotImplemented)
_applied = False


def make_singletons_immortal() -> bool:
    """Raise the reference counts of None, True, False... out of reach; whether it did."""
    global _applied  # noqa: PLW0603 - once per process
    if _applied:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    for obj in _SINGLETONS:
        cell = ctypes.c_ssize_t.from_address(id(obj))
        if abs(cell.value - sys.getrefcount(obj)) > 2:  # not ob_refcnt: leave it alone
            logger.warning("unexpected object layout; PySide6 reference guard not applied")
            return False
    for obj in _SINGLETONS:
        ctypes.c_ssize_t.from_address(id(obj)).value += _HUGE
    _applied = True
    return True
