"""The Hugging Face token a run's model needs, from the model registry (stored encrypted).

A run gets a token only when its project's registry holds an entry for exactly its model source
with a token; every other run's trainer starts without one.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from visionyard.db.models import ModelEntry
from visionyard.runqueue._db import DB, in_transaction
from visionyard.secretbox import SecretBox, load_or_create_key


class ModelTokens:
    def __init__(self, db: DB, *, data_dir: Path, secret_key: str | None) -> None:
        self.db = db
        self._box = SecretBox(load_or_create_key(data_dir, secret_key))

    def for_model(self, project_id: int, source: str) -> str | None:
        def work(session: Session) -> bytes | None:
            return session.execute(
                select(ModelEntry.token_encrypted)
                .where(
                    ModelEntry.project_id == project_id,
                    ModelEntry.source == source,
                    ModelEntry.token_encrypted.is_not(None),
                )
                .limit(1)
            ).scalar_one_or_none()

        return self._box.model_token(in_transaction(self.db, work), model=source)
