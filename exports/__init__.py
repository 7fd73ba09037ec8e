"""Segment exports: files that messaging and ad tools import."""

from exports.publish import ExportResult, export_segments

__all__ = ["ExportResult", "export_segments"]
