"""Datasets for AR-Net training and evaluation: list files, video folders, SynthAct.

    from train.data import DataConfig, build_dataset, build_loader, collate
    ds = build_dataset(DataConfig(root="data/synthact_small", mode="train", num_segments=16,
                                  list_file="data/synthact_small/train.txt"))
    item = ds[0]   # {"frames": [uint8 (T,3,s,s) per resolution], "label": int, "index": int}

See ``train/data/dataset.py`` for the item / batch format and bad-item handling.
"""

from train.data.dataset import (FORMATS, BadItem, ClipDataset, DataConfig, build_dataset,
                                build_loader, collate, load_records, resolve_format,
                                worker_init_fn)
from train.data.lists import (VIDEO_EXTENSIONS, ListFileError, VideoRecord, parse_list,
                              read_classes, scan_video_folder, sniff_style)
from train.data.sampling import eval_indices, sample_indices, segment_bounds, train_indices
from train.data.transforms import (DEFAULT_SCALES, Crop, MultiScaleCrop, TrainAugment,
                                   eval_views, train_views)
from train.data.video import (DECODERS, DecodeError, OpenCVReader, PyAVReader, open_video,
                              read_frame_folder, read_image)

__all__ = [
    "FORMATS", "BadItem", "ClipDataset", "DataConfig", "build_dataset", "build_loader", "collate",
    "load_records", "resolve_format", "worker_init_fn", "VIDEO_EXTENSIONS", "ListFileError",
    "VideoRecord", "parse_list", "read_classes", "scan_video_folder", "sniff_style",
    "eval_indices", "sample_indices", "segment_bounds", "train_indices", "DEFAULT_SCALES", "Crop",
    "MultiScaleCrop", "TrainAugment", "eval_views", "train_views", "DECODERS", "DecodeError",
    "OpenCVReader", "PyAVReader", "open_video", "read_frame_folder", "read_image",
]
