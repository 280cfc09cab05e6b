"""Public datasets read as they are distributed, one module per layout, one table of them.

    from train.data.layouts import LAYOUTS, LayoutRequest, detect_layout, load_layout
    part = load_layout("ucf101", LayoutRequest(root="/data/UCF101", subset="train", split=1))
    part.records, part.classes, part.report.counts

Table order is detection order (the plain folder last): ``ucf101``, ``hmdb51``, ``kinetics_csv``,
``ssv2``, ``folder``.  Register a new layout with :func:`register_layout`.
"""

from train.data.layouts.base import (LAYOUTS, REPORT_KINDS, SUBSETS, DataReport, Layout,
                                     LayoutError, LayoutRequest, LayoutSplit, canonical_layout,
                                     detect_layout, get_layout, layout_aliases, list_layouts,
                                     load_layout, register_layout)
from train.data.layouts import ucf101, hmdb51, kinetics, ssv2, folder  # noqa: E402 (register)

MODULES = (ucf101, hmdb51, kinetics, ssv2, folder)   # table order = detection order

__all__ = ["MODULES", "LAYOUTS", "REPORT_KINDS", "SUBSETS", "DataReport", "Layout", "LayoutError",
           "LayoutRequest", "LayoutSplit", "canonical_layout", "detect_layout", "get_layout",
           "layout_aliases", "list_layouts", "load_layout", "register_layout"]
