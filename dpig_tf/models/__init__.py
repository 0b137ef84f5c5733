"""DPIG networks (Keras 3 subclassed models, registered under package "dpig_tf").

Importing this package registers the Stage-I classes for `.keras` loading.
Build them from a config with `dpig_tf.models.factory`.
"""

from dpig_tf.models.appearance_encoder import AppearanceEncoder
from dpig_tf.models.discriminator import Discriminator
from dpig_tf.models.generator import Generator
from dpig_tf.models.layers import ResidualDense
from dpig_tf.models.layers import ResidualTrunk
from dpig_tf.models.layers import ResidualUnit
from dpig_tf.models.layers import Tile
from dpig_tf.models.pose_decoder import PoseDecoder
from dpig_tf.models.pose_encoder import PoseEncoder
from dpig_tf.models.roi_crop import RoiCrop

__all__ = [
    "AppearanceEncoder", "Discriminator", "Generator", "PoseDecoder", "PoseEncoder",
    "ResidualDense", "ResidualTrunk", "ResidualUnit", "RoiCrop", "Tile",
]
