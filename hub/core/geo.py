"""Villages (thôn/xóm/bản) inside communes: broadcasts target them and speakers belong to one.

Districts and communes are the `areas` table (hub/core/db.py); a village is keyed by its commune and its own slug.
"""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.db import Base


class Village(Base):
    __tablename__ = "villages"
    district: Mapped[str] = mapped_column(String(64), primary_key=True)
    commune: Mapped[str] = mapped_column(String(64), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
