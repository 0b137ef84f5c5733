"""Presets: a trained (or imported) model as plain files, loaded with one call.

Layout (keras-hub style, one folder per network):

    PRESET/metadata.json              format, dataset, image size, source checkpoints + SHA-256,
                                      and the SHA-256 of every weights file below
    PRESET/config.json                the dpig_tf ExperimentConfig the networks were built from
    PRESET/<network>/config.json      the network's Keras config
    PRESET/<network>/model.weights.h5 its weights

Networks: encoder, generator, pose_encoder, pose_decoder, and when present discriminator
and the Stage-II mapping networks (fg_mapping, bg_mapping, pose_mapping). A preset is
written to a temporary folder and renamed into place; loading checks every weights file
against its recorded SHA-256 first, so a truncated or swapped file is a clear error, not
a crash inside h5py. Every CLI takes `--preset=PATH` wherever it takes `--run_dir`.
"""

from __future__ import annotations

import datetime
import json
import pathlib
import shutil
import tempfile

from dpig_tf import __version__
from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf.errors import UserError
from dpig_tf.file_hash import sha256_of

METADATA_FILE = "metadata.json"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
FORMAT = "dpig_tf-preset"
FORMAT_VERSION = 1
INFERENCE_NETWORKS = (names.ENCODER, names.GENERATOR, names.POSE_ENCODER, names.POSE_DECODER)
OPTIONAL_NETWORKS = (names.DISCRIMINATOR, names.FG_MAPPING, names.BG_MAPPING, names.POSE_MAPPING)


class PresetError(UserError):
    """A preset that cannot be written or loaded; the message names the file."""


def is_preset(path) -> bool:
    return (pathlib.Path(path) / METADATA_FILE).is_file()


# --- writing --------------------------------------------------------------------------------
def save_preset(run_dir, out) -> pathlib.Path:
    """Packs the run directory `run_dir` (trained or imported) as the preset folder `out`."""
    import keras

    from dpig_tf.models import factory
    from dpig_tf.models.disentangled_generator import DisentangledGenerator
    from dpig_tf.models.disentangled_generator import MissingWeightsError
    from dpig_tf.models.disentangled_generator import restore_networks

    run_dir, out = pathlib.Path(run_dir), pathlib.Path(out)
    if out.exists():
        raise PresetError(f"{out}: expected a new preset folder, found an existing path")
    model = DisentangledGenerator.from_run_dir(run_dir)
    cfg = model.config
    nets = {name: getattr(model, name) for name in INFERENCE_NETWORKS + OPTIONAL_NETWORKS[1:]}
    nets = {k: v for k, v in nets.items() if v is not None}
    try:
        discriminator = factory.build_discriminator(cfg)
        restore_networks(run_dir / names.STAGE1_DIR, "Stage-I discriminator",
                         {names.DISCRIMINATOR: discriminator})
        nets[names.DISCRIMINATOR] = discriminator
    except MissingWeightsError:
        pass  # a run without a trained D still makes a preset for inference

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.writing-", dir=out.parent))
    try:
        (tmp / CONFIG_FILE).write_text(json.dumps(config_io.config_to_dict(cfg), indent=1))
        weights = {}
        for name, net in nets.items():
            (tmp / name).mkdir()
            (tmp / name / CONFIG_FILE).write_text(
                json.dumps(keras.saving.serialize_keras_object(net), indent=1))
            net.save_weights(str(tmp / name / WEIGHTS_FILE))
            weights[name] = {"file": f"{name}/{WEIGHTS_FILE}",
                             "sha256": sha256_of(tmp / name / WEIGHTS_FILE),
                             "parameters": int(sum(w.numpy().size for w in net.weights))}
        metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                    "dataset": cfg.data.dataset,
                    "image_size": [cfg.data.image_height, cfg.data.image_width],
                    "has_stage2": bool(model.has_stage2), "networks": weights,
                    "source": _source_of(run_dir), "dpig_tf_version": __version__,
                    "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds")}
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=1) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _source_of(run_dir: pathlib.Path) -> dict:
    """Where the weights came from: the TF1 import record, or the run's own checkpoints."""
    from dpig_tf.pretrained.tf1_import import IMPORT_FILE

    record = run_dir / IMPORT_FILE
    if record.is_file():
        data = json.loads(record.read_text())
        return {"kind": "tf1_import", "dataset": data["dataset"], "checkpoints": {
            kind: {"path": s["path"], "model_id": s["model_id"], "step": s["step"],
                   "sha256": s["sha256"]} for kind, s in data["sources"].items()}}
    import tensorflow as tf

    checkpoints = {}
    for sub in (names.STAGE1_DIR, names.POSE_AE_DIR, names.STAGE2_DIR):
        prefix = tf.train.latest_checkpoint(str(run_dir / sub))
        if prefix:
            files = sorted(pathlib.Path(prefix).parent.glob(pathlib.Path(prefix).name + ".*"))
            checkpoints[sub] = {"path": prefix, "sha256": {f.name: sha256_of(f) for f in files}}
    return {"kind": "dpig_tf_run", "run_dir": str(run_dir.resolve()), "checkpoints": checkpoints}


# --- loading --------------------------------------------------------------------------------
def read_metadata(path) -> dict:
    path = pathlib.Path(path)
    file = path / METADATA_FILE
    if not file.is_file():
        raise PresetError(f"{file}: expected a dpig_tf preset folder with {METADATA_FILE}, "
                          "found none")
    try:
        metadata = json.loads(file.read_text())
    except json.JSONDecodeError as err:
        raise PresetError(f"{file}:{err.lineno}: expected JSON, found invalid text "
                          f"({err.msg})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise PresetError(f"{file}: format: expected {FORMAT!r}, found "
                          f"{metadata.get('format') if isinstance(metadata, dict) else metadata!r}")
    version = metadata.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise PresetError(f"{file}: format_version: expected <= {FORMAT_VERSION} (this dpig_tf "
                          f"{__version__}), found {version!r}; upgrade dpig_tf")
    return metadata


def preset_config(path):
    path = pathlib.Path(path)
    try:
        data = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise PresetError(f"{path / CONFIG_FILE}: expected the preset's JSON config, found "
                          f"{type(err).__name__}: {err}") from None
    return config_io.config_from_dict(data, source=str(path / CONFIG_FILE)).validate()


def load_network_weights(path, name: str, network, metadata: dict) -> None:
    """Loads PRESET/<name>/model.weights.h5 into `network` after checking its SHA-256."""
    path = pathlib.Path(path)
    entry = metadata.get("networks", {}).get(name)
    if entry is None:
        raise PresetError(f"{path / METADATA_FILE}: networks: expected an entry for {name!r}, "
                          f"found {sorted(metadata.get('networks', {}))}")
    file = path / entry["file"]
    if not file.is_file():
        raise PresetError(f"{file}: expected the {name} weights, found no file")
    digest = sha256_of(file)
    if digest != entry["sha256"]:
        raise PresetError(f"{file}: expected sha256 {entry['sha256'][:16]}... (as recorded in "
                          f"{METADATA_FILE}), found {digest[:16]}...: the file is truncated or "
                          "not this preset's")
    try:
        network.load_weights(str(file))
    except (ValueError, OSError, KeyError) as err:
        raise PresetError(f"{file}: expected weights for the {name} of this config, found "
                          f"others ({str(err).splitlines()[0][:200]})") from None


def load_preset(path, require_stage2: bool = False, crop_method: str = "tf"):
    """The `DisentangledGenerator` of a preset folder (`dpig_tf.from_preset`)."""
    from dpig_tf.models.disentangled_generator import DisentangledGenerator
    from dpig_tf.models.disentangled_generator import MissingWeightsError

    path = pathlib.Path(path)
    metadata = read_metadata(path)
    cfg = preset_config(path)
    has_stage2 = bool(metadata.get("has_stage2"))
    if require_stage2 and not has_stage2:
        raise MissingWeightsError(f"{path}: this preset has no Stage-II mapping networks; "
                                  "sampling needs them")
    model = DisentangledGenerator.from_config_object(cfg, crop_method=crop_method,
                                                     with_mapping=has_stage2)
    for name in INFERENCE_NETWORKS + (OPTIONAL_NETWORKS[1:] if has_stage2 else ()):
        network = getattr(model, name)
        if network is not None:
            load_network_weights(path, name, network, metadata)
    model.config = cfg
    return model


def write_run_dir(preset, out) -> pathlib.Path:
    """Unpacks a preset into a run directory (checkpoints), e.g. to train Stage II from it."""
    import tensorflow as tf

    from dpig_tf import run_format
    from dpig_tf.models import factory

    preset, out = pathlib.Path(preset), pathlib.Path(out)
    model = load_preset(preset)
    metadata = read_metadata(preset)
    groups = {names.STAGE1_DIR: {names.ENCODER: model.encoder, names.GENERATOR: model.generator},
              names.POSE_AE_DIR: {names.POSE_ENCODER: model.pose_encoder,
                                  names.POSE_DECODER: model.pose_decoder}}
    if names.DISCRIMINATOR in metadata.get("networks", {}):
        discriminator = factory.build_discriminator(model.config)
        load_network_weights(preset, names.DISCRIMINATOR, discriminator, metadata)
        groups[names.STAGE1_DIR][names.DISCRIMINATOR] = discriminator
    out.mkdir(parents=True, exist_ok=True)
    if (out / names.CONFIG_FILE).exists():
        raise PresetError(f"{out}: expected a new run directory, found one with "
                          f"{names.CONFIG_FILE}")
    config_io.dump_config(model.config, out / names.CONFIG_FILE)
    run_format.write_format(out)
    for sub, objects in groups.items():
        tf.train.CheckpointManager(tf.train.Checkpoint(**objects), str(out / sub),
                                   max_to_keep=1).save(checkpoint_number=0)
    return out
