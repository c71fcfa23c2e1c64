"""The window's learning features, wired together: teach mode, the label quality view and the
background retrain, with their menu entries (the tag tree's context menu, the Model menu) and
the "retrain automatically after N corrections" setting. MainWindow creates one and stays a
composer.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QPoint, QSettings, Qt
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QInputDialog, QMainWindow, QMenu, QTreeView

from app.cli.trainrun import trainer_command
from app.gui.labels import LabelManager
from app.gui.preview import Previewer
from app.gui.quality import QualityDialog
from app.gui.retraining import BackgroundRetrain, RetrainResultDialog, RetrainStatus
from app.gui.session import AlbumSession
from app.gui.sidebar import FILTER_ROLE
from app.gui.teach import TeachDialog, TeachMode
from core import ops
from core.browse import Scope
from core.ops import Changes
from core.quality import QualityReport, label_quality

logger = logging.getLogger(__name__)

#: Model → Retrain automatically: after this many new corrections (0 = never).
AUTO_CHOICES = (0, 10, 25, 50, 100)
AUTO_KEY = "model/retrain_after"


class Learning(QObject):
    """Teach mode, the quality view and background retraining for one window."""

    def __init__(
        self,
        window: QMainWindow,
        session: AlbumSession,
        previewer: Previewer,
        tree: QTreeView,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._session = session
        self._previewer = previewer
        self._tree = tree
        self._settings = settings
        self.teach = TeachMode(session, window.loader, window)  # type: ignore[attr-defined]
        self.labels = LabelManager(session, window)
        self.teach.opened.connect(self._on_teach_opened)
        self.retrain = BackgroundRetrain(self)
        self.retrain_status = RetrainStatus(window)
        window.statusBar().addPermanentWidget(self.retrain_status)
        self.retrain.progressed.connect(self.retrain_status.show_progress)
        self.retrain.finished.connect(self._on_retrain_finished)
        self.retrain.failed.connect(self._on_retrain_failed)
        self.retrain_status.result_requested.connect(self.show_result)
        self.retrain_status.cancel_requested.connect(self.retrain.cancel)
        self.quality: QualityDialog | None = None
        self.result_dialog: RetrainResultDialog | None = None
        self.corrections = 0
        self.auto_after = int(settings.value(AUTO_KEY, 0)) if settings is not None else 0
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._on_tree_menu_requested)
        session.tags_changed.connect(self._on_tags_changed)
        session.label_created.connect(self._on_label_created)
        self._build_menu()

    # -- menus --------------------------------------------------------------------------
    def _build_menu(self) -> None:
        menu = next(
            (
                a.menu()
                for a in self._window.menuBar().actions()
                if a.menu() is not None and a.text().replace("&", "") == "Model"
            ),
            None,
        )
        if menu is None:
            menu = self._window.menuBar().addMenu("&Model")
        menu.addSeparator()
        self.teach_action = QAction("&Teach a label…", self._window)
        self.teach_action.setStatusTip(
            "Answer the model's questions about one label; it learns as you go"
        )
        self.teach_action.triggered.connect(self._on_teach_triggered)
        self.quality_action = QAction("Label &quality…", self._window)
        self.quality_action.triggered.connect(lambda: self.show_quality())
        self.labels_action = QAction("&Labels…", self._window)
        self.labels_action.setStatusTip(
            "Rename, merge, move, give aliases to or delete your own labels"
        )
        self.labels_action.triggered.connect(lambda: self.labels.show_dialog())
        menu.addAction(self.teach_action)
        menu.addAction(self.quality_action)
        menu.addAction(self.labels_action)
        auto = menu.addMenu("Retrain &automatically")
        group = QActionGroup(self._window)
        for n in AUTO_CHOICES:
            action = QAction("Never" if not n else f"After {n} new corrections", self._window)
            action.setCheckable(True)
            action.setChecked(n == self.auto_after)
            action.setData(n)
            group.addAction(action)
            auto.addAction(action)
        group.triggered.connect(lambda act: self.set_auto_after(int(act.data())))
        self.auto_group = group

    def _on_tree_menu_requested(self, pos: QPoint) -> None:
        flt = self._tree.indexAt(pos).data(FILTER_ROLE)
        if flt is None or flt.scope != Scope.LABEL:
            return
        menu = QMenu(self._tree)
        menu.addAction(f"Teach “{flt.label}”…", lambda: self.teach.open(flt.label))
        menu.addAction(f"Quality of “{flt.label}”…", lambda: self.show_quality(flt.label))
        menu.addSeparator()  # the label manager (app.gui.labels); built-ins are refused, why
        manage = self.labels
        menu.addAction("Rename…", lambda: manage.ask_rename(flt.label))
        menu.addAction("Merge into…", lambda: manage.ask_merge(flt.label))
        menu.addAction("Move under…", lambda: manage.ask_move(flt.label))
        menu.addAction("Aliases…", lambda: manage.ask_aliases_for(flt.label))
        menu.addAction("Delete", lambda: manage.delete(flt.label))
        menu.popup(self._tree.viewport().mapToGlobal(pos))
        self.tree_menu = menu

    def _on_teach_triggered(self) -> None:
        flt = getattr(self._tree, "current_filter", None)
        if flt is not None and flt.scope == Scope.LABEL:
            self.teach.open(flt.label)
            return
        self._session.query(
            lambda library: sorted(r.name for r in library.store.labels()), self._ask_label
        )

    def _ask_label(self, names: list[str]) -> None:
        name, ok = QInputDialog.getItem(self._window, "Teach a label", "Label:", names, 0, True)
        if ok and name:
            self.teach.open(name)

    # -- teach mode ---------------------------------------------------------------------
    def _on_label_created(self, name: str) -> None:
        self.teach.open(name)  # it has its first example now

    def _on_teach_opened(self, dialog: TeachDialog) -> None:
        dialog.preview_requested.connect(self._previewer.show)

    # -- quality view -------------------------------------------------------------------
    def show_quality(self, label: str | None = None) -> None:
        if self.quality is None:
            self.quality = QualityDialog(self._window)
            self.quality.threshold_set.connect(self._on_threshold_set)
            self.quality.undo_requested.connect(self._on_threshold_undo_requested)
        self.quality.show()
        self._refresh_quality(label)

    def _refresh_quality(self, label: str | None = None) -> None:
        dialog = self.quality
        if dialog is None:
            return

        def done(report: QualityReport) -> None:
            dialog.set_report(report, label)

        self._session.query(label_quality, done)

    def _on_threshold_set(self, label: str, value: float | None) -> None:
        self._session.run_op(ops.set_threshold, label, value, done=self._after_threshold)

    def _on_threshold_undo_requested(self) -> None:
        self._session.run_op(ops.undo_threshold, done=self._after_threshold_undo)

    def _after_threshold_undo(self, changes: Changes) -> None:
        if not changes.changed:
            self._window.statusBar().showMessage("No threshold change to undo", 4000)
            return
        self._after_threshold(changes)

    def _after_threshold(self, _: Changes) -> None:
        self._refresh_quality(self.quality.current_label() if self.quality else None)

    # -- retraining ---------------------------------------------------------------------
    def start_retrain(self) -> bool:
        root, data_dir = self._session.root, self._session.data_dir
        if root is None or data_dir is None:
            return False
        started = self.retrain.start(trainer_command(root, data_dir))
        if started:
            self.corrections = 0
            self.retrain_status.show_progress("loading", 0, 0)
        return started

    def set_auto_after(self, n: int) -> None:
        self.auto_after = n
        if self._settings is not None:
            self._settings.setValue(AUTO_KEY, n)

    def _on_tags_changed(self, photo_ids: object) -> None:
        if not isinstance(photo_ids, list):  # indexing or a re-score, not a correction
            return
        self.corrections += 1
        if self.auto_after and self.corrections >= self.auto_after and not self.retrain.running:
            self.start_retrain()

    def _on_retrain_finished(self, done: dict) -> None:
        activated = bool(done.get("activated"))
        version = done.get("version")
        self.retrain_status.show_result(
            f"Version {version} " + ("is active" if activated else "was not better"), True
        )
        if activated:
            self._session.reload_model()
        else:
            self._session.refresh_model_info()
        if self.teach.dialog is not None:
            self.teach.dialog.child.refit()

    def _on_retrain_failed(self, message: str) -> None:
        self.retrain_status.show_result(f"Retraining failed: {message}", False)

    def show_result(self) -> None:
        if self.retrain.result is None:
            return
        self.result_dialog = RetrainResultDialog(self.retrain.result, self._window)
        self.result_dialog.teach_requested.connect(self.teach.open)
        self.result_dialog.show()

    def close(self) -> None:
        self.teach.close()
        self.labels.close()
        self.retrain.close()
        for dialog in (self.quality, self.result_dialog):
            if dialog is not None:
                dialog.close()
