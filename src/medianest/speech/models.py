"""What a text-to-speech download says: its text, language, voice and provider.

A text-to-speech job is a download of kind "speech" (downloads/models.py): it is queued, claimed, retried,
followed and listed like any download, and ends in a media item. This row holds what only speech needs.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from medianest.db.base import Base, IdType


class SpeechRequest(Base):
    __tablename__ = "speech_requests"

    download_id: Mapped[int] = mapped_column(IdType, ForeignKey("downloads.id", ondelete="CASCADE"),
                                             primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(35))
    voice: Mapped[str | None] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(16))
