"""Synthetic retail sample data: raw nightly drops for every source contract, plus ground truth.

``generate(out, people, days, end_date, seed)`` writes ``<out>/<source>/<YYYY-MM-DD>/<file>`` exactly in the
formats of ``ingest/contracts/*.yml`` (with realistic noise, duplicates and broken rows) and
``<out>/_truth/{records,people}.parquet`` + ``summary.json`` so identity resolution can be scored.
"""

from .core import GenerateResult, generate

__all__ = ["GenerateResult", "generate"]
