"""Backbone registry (timm style): a backbone is a name in a config.

Each family lives in its own module and registers factories with ``@register_backbone``.
``create_backbone(name)`` returns a :class:`Backbone`: it takes RGB frames as float tensors in
[0, 255] (N, 3, H, W), normalises them itself (so exported models take raw pixels) and returns
pooled features (N, num_features).
"""

from __future__ import annotations

from train.backbones.registry import (Backbone, BackboneError, BackboneSpec, check_backbone_name,
                                      create_backbone, get_spec, list_backbones, register_backbone)

# Importing the family modules registers their backbones.
from train.backbones import tiny as _tiny  # noqa: F401,E402
from train.backbones import efficientnet_lite as _lite  # noqa: F401,E402
from train.backbones import tv as _tv  # noqa: F401,E402

__all__ = ["Backbone", "BackboneError", "BackboneSpec", "check_backbone_name", "create_backbone",
           "get_spec", "list_backbones", "register_backbone"]
