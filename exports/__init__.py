"""Segment exports: audience files that messaging and ad tools import, consent respected."""

from exports.definitions import SegmentDefinition, SegmentDefinitionError, load_definitions
from exports.publish import ExportResult, ExportRun, export_segments

__all__ = [
    "ExportResult",
    "ExportRun",
    "SegmentDefinition",
    "SegmentDefinitionError",
    "export_segments",
    "load_definitions",
]
