"""The Model menu's behaviour: when Retrain and Model history are available, and what they do."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from app.cli.trainrun import trainer_command
from app.gui.modeldialogs import ModelHistoryDialog, RetrainDialog, trainer_available
from app.gui.session import AlbumSession
from core.db.store import ModelRow

logger = logging.getLogger(__name__)

NO_TRAINER = (
    "Retraining needs albumtag's trainer (python -m trainer), which is not part of "
    "this installation yet."
)
NO_ALBUM = "Open an album first."
ONLY_PRIOR = (
    "There is only the built-in model so far. Retrain once and every version will "
    "be listed here, ready to roll back to."
)


class ModelMenu(QObject):
    """Keeps Retrain… and Model history… enabled only when they can work, and says why not."""

    def __init__(
        self, session: AlbumSession, retrain: QAction, history: QAction, window: QWidget
    ) -> None:
        super().__init__(window)
        self._session = session
        self._retrain = retrain
        self._history = history
        self._window = window
        self.dialog: RetrainDialog | ModelHistoryDialog | None = None
        self.background: Callable[[], object] | None = None  # runs a retrain in the background
        retrain.triggered.connect(self._on_retrain_triggered)
        history.triggered.connect(self._on_history_triggered)
        session.model_changed.connect(self.update)
        session.opened.connect(self.update)
        self.update()

    def update(self) -> None:
        is_open = self._session.is_open
        can_train = trainer_available()
        why = NO_ALBUM if not is_open else "" if can_train else NO_TRAINER
        self._explain(
            self._retrain,
            is_open and can_train,
            why,
            "Learn from your corrections and make a new model version",
        )
        versions = self._session.model_info.get("versions", []) if is_open else []
        why = NO_ALBUM if not is_open else "" if len(versions) > 1 else ONLY_PRIOR
        self._explain(
            self._history,
            len(versions) > 1,
            why,
            "Every model version, with its metrics; activate an older one",
        )

    @staticmethod
    def _explain(action: QAction, enabled: bool, why: str, tip: str) -> None:
        action.setEnabled(enabled)
        action.setToolTip(tip if enabled else why)
        action.setStatusTip(tip if enabled else why)

    def _on_retrain_triggered(self) -> None:
        if self.background is not None:  # the window's way: never modal (app.gui.learning)
            self.background()
            return
        root, data_dir = self._session.root, self._session.data_dir
        if root is None or data_dir is None:
            return
        dialog = RetrainDialog(trainer_command(root, data_dir), self._window)
        dialog.finished_training.connect(self._on_finished_training)
        self.dialog = dialog
        dialog.open()
        dialog.start()

    def _on_finished_training(self, activated: bool) -> None:
        self._session.reload_model() if activated else self._session.refresh_model_info()

    def _on_history_triggered(self) -> None:
        self._session.query(lambda library: library.store.models(), self._show_history)

    def _show_history(self, models: list[ModelRow]) -> None:
        dialog = ModelHistoryDialog(models, self._window)
        dialog.activate_requested.connect(self._session.activate_model)
        self.dialog = dialog
        dialog.open()

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.reject()
            self.dialog = None
