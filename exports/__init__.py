"""Segment exports: audience files that messaging and ad tools import, consent respected."""

from exports.definitions import SegmentDefinition, load_definitions
from exports.publish import ExportResult, ExportRun, export_segments

__all__ = ["ExportResult", "ExportRun", "SegmentDefinition", "export_segments", "load_definitions"]
