"""Datasets for AR-Net training and evaluation: list files, video folders, SynthAct.

    from train.data import DataConfig, build_dataset, build_loader, collate
    ds = build_dataset(DataConfig(root="data/synthact_small", mode="train", num_segments=16,
                                  list_file="data/synthact_small/train.txt"))
    ucf = build_dataset(DataConfig(root="/data/UCF101", format="ucf101", split=1, subset="train"))
    item = ds[0]   # {"frames": [uint8 (T,3,s,s) per resolution], "label": int, "index": int}

See ``train/data/dataset.py`` for the item / batch format and bad-item handling,
``train/data/layouts/`` for the public dataset layouts (UCF101, HMDB51, Kinetics, SSv2, a plain
folder) and ``train/data/sampling.py`` for the sampling rules.
"""

from train.data.dataset import (FORMATS, BadItem, ClipDataset, DataConfig, build_dataset,
                                build_loader, collate, load_records, resolve_format,
                                worker_init_fn)
from train.data.lists import (VIDEO_EXTENSIONS, ListFileError, VideoRecord, parse_list,
                              read_classes, scan_video_folder, sniff_style)
from train.data.layouts import (LAYOUTS, DataReport, LayoutError, LayoutRequest, detect_layout,
                                load_layout, register_layout)
from train.data.sampling import (PAD_RULES, SAMPLING_RULES, eval_indices, sample_indices,
                                 segment_bounds, time_indices, train_indices)
from train.data.transforms import (DEFAULT_SCALES, Crop, MultiScaleCrop, TrainAugment,
                                   eval_views, train_views)
from train.data.video import (DECODERS, DecodeError, OpenCVReader, PyAVReader, open_video,
                              read_frame_folder, read_image)

__all__ = [
    "FORMATS", "BadItem", "ClipDataset", "DataConfig", "build_dataset", "build_loader", "collate",
    "load_records", "resolve_format", "worker_init_fn", "VIDEO_EXTENSIONS", "ListFileError",
    "VideoRecord", "parse_list", "read_classes", "scan_video_folder", "sniff_style",
    "LAYOUTS", "DataReport", "LayoutError", "LayoutRequest", "detect_layout", "load_layout",
    "register_layout", "PAD_RULES", "SAMPLING_RULES", "time_indices",
    "eval_indices", "sample_indices", "segment_bounds", "train_indices", "DEFAULT_SCALES", "Crop",
    "MultiScaleCrop", "TrainAugment", "eval_views", "train_views", "DECODERS", "DecodeError",
    "OpenCVReader", "PyAVReader", "open_video", "read_frame_folder", "read_image",
]
