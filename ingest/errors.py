"""The one exception ingest raises for a drop it cannot land."""

from __future__ import annotations


class IngestError(Exception):
    """A drop (or contract) that cannot be landed. The message names source, entity, file and date and
    what is wrong, and never contains row values (they may be personal data)."""
