"""What a platform process holds for faces: the data key, the worker processes, the galleries."""

from __future__ import annotations

from datetime import timedelta

from pingan.config import Settings
from pingan.errors import DataKeyMissing
from pingan.faces.analysis import FaceWorkers
from pingan.faces.gallery import Gallery
from pingan.faces.service import Watching
from pingan.faces.vault import KeyMissing, Vault


class FaceRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.workers = FaceWorkers(
            settings.face_engine, settings.face_model_dir, settings.face_workers
        )
        self._vault: Vault | None = None
        self._galleries: dict[str, Gallery] = {}

    def vault(self) -> Vault:
        if self._vault is None:
            try:
                self._vault = Vault.from_setting(self.settings.data_key)
            except KeyMissing as exc:
                raise DataKeyMissing() from exc
        return self._vault

    def engine_id(self) -> str:
        return self.workers.start()

    def gallery(self, engine_id: str, dim: int, source: str = "people") -> Gallery:
        key = f"{source}:{engine_id}"
        if key not in self._galleries:
            self._galleries[key] = Gallery(
                engine_id, dim, self.vault(), source, ann_min=self.settings.face_ann_min
            )
        return self._galleries[key]

    def watching(self, engine_id: str, dim: int) -> Watching:
        start, stop = (int(h) for h in self.settings.face_stranger_hours.split("-"))
        return Watching(
            gallery=self.gallery(engine_id, dim, "watch"),
            night_hours=(start, stop),
            stranger_count=self.settings.face_stranger_count,
            stranger_window=timedelta(minutes=self.settings.face_stranger_window_min),
        )

    def close(self) -> None:
        self.workers.close()
