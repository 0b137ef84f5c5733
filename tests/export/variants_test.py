"""variants.json: written by the LiteRT export, the fastest faithful variant is served,
and every variant marked faithful IS faithful on real test-split images."""

import json

import numpy as np
import pytest

from export import quality
from export import representative_data
from export import signatures
from export import tflite_export
from export import variants
from export import video_decoder


def _variant(file, latency, faithful, endpoint="decode"):
    return variants.Variant(file=file, endpoint=endpoint, backend="litert", precision="int8",
                            batch_size=1, latency_ms=latency, psnr_db=40.0 if faithful else 20.0,
                            ssim=0.99 if faithful else 0.5, mean_abs_error=0.01,
                            max_abs_error=0.1, faithful=faithful, quality_examples=2)


def test_choose_the_fastest_faithful_or_the_forced_one():
    found = [_variant("a.tflite", 10, False), _variant("b.tflite", 30, True),
             _variant("c.tflite", 20, True), _variant("d.tflite", 1, True, "transfer")]
    assert variants.choose(found, "decode").file == "c.tflite"
    assert variants.choose(found, "decode", force="a").file == "a.tflite"
    with pytest.raises(variants.VariantError, match="serves endpoint 'transfer'"):
        variants.choose(found, "decode", force="d.tflite")
    with pytest.raises(variants.VariantError, match="found no such variant"):
        variants.choose(found, "decode", force="x.tflite")
    with pytest.raises(variants.VariantError, match="none faithful"):
        variants.choose(found[:1], "decode")


def test_record_merges_and_rejects_unreadable(tmp_path):
    dims = signatures.ModelDims(32, 16, 14, 8, 8)
    variants.record(tmp_path, dims, [_variant("a.tflite", 10, False)])
    variants.record(tmp_path, dims, [_variant("a.tflite", 5, True), _variant("b.tflite", 7, True)])
    got_dims, found = variants.read(tmp_path)
    assert got_dims == dims and [(v.file, v.latency_ms) for v in found] == [
        ("a.tflite", 5), ("b.tflite", 7)]
    (tmp_path / variants.VARIANTS_FILE).write_text("{")
    with pytest.raises(variants.VariantError, match="unreadable"):
        variants.read(tmp_path)
    with pytest.raises(variants.VariantError, match="no variants.json"):
        variants.read(tmp_path / "missing")


@pytest.fixture(scope="module")
def exported_variants(run_dir, loaded, tmp_path_factory):
    out = tmp_path_factory.mktemp("variants")
    report = tflite_export.export_tflite(str(run_dir), str(out), ["fp32", "int8", "int8_mixed"],
                                         ["decode"], num_calibration=4, num_parity=2,
                                         loaded=loaded, latency_time=0.05)
    return out, report


def test_export_writes_variants_with_quality(exported_variants):
    out, report = exported_variants
    data = json.loads((out / variants.VARIANTS_FILE).read_text())
    assert data["faithful_bar"] == {"psnr_db": 35.0, "ssim": 0.98}
    found = {v["file"]: v for v in data["variants"]}
    assert set(found) == {f"dpig_decode_{q}.tflite" for q in ("fp32", "int8", "int8_mixed")}
    assert found["dpig_decode_fp32.tflite"]["faithful"]
    for v in found.values():
        assert v["latency_ms"] > 0 and v["quality_examples"] == 2
        assert v["faithful"] == (v["psnr_db"] >= 35 and v["ssim"] >= 0.98)
    # Full int8 quantizes the in-graph heatmap arithmetic: below the bar, with a warning.
    assert not found["dpig_decode_int8.tflite"]["faithful"]
    lines = tflite_export.warn_unfaithful(report, out)
    assert any("dpig_decode_int8.tflite is NOT faithful" in line for line in lines)


def test_every_variant_marked_faithful_is_faithful(exported_variants, loaded):
    # Re-measured here on other real test-split images than the export used.
    out, _ = exported_variants
    _, found = variants.read(out)
    examples = representative_data.dataset_examples(loaded.cfg, 5, split="test")
    inputs = representative_data.rows(representative_data.endpoint_arrays(
        loaded.model, loaded.dims, "decode", examples), 2, 3)
    fn = signatures.endpoint_function(loaded.model, loaded.dims, "decode")
    reference = np.asarray(fn(**inputs)["generated"])
    marked = [v for v in found if v.faithful]
    assert marked
    for v in marked:
        got = variants.open_runner(out, v)(inputs)["generated"]
        q = quality.compare(reference, got)
        assert q.faithful, f"{v.file} is marked faithful but measures {q.summary()}"


def test_video_frames_use_the_chosen_variant(exported_variants, loaded, examples):
    out, _ = exported_variants
    codes = loaded.model.encode(examples["image"][:1], examples["keypoints"][:1])
    frames = video_decoder.decode_frames(out, codes["foreground"], codes.get("background"),
                                         examples["keypoints"])
    want = loaded.model.decode(np.repeat(codes["foreground"], 3, 0),
                               np.repeat(codes["background"], 3, 0), examples["keypoints"])
    assert frames.shape == (3, *want.shape[1:])
    assert quality.compare(np.asarray(want), frames).faithful


def test_client_runs_the_fastest_faithful_variant_locally(exported_variants, loaded, examples,
                                                          tmp_path, capsys):
    from export import client

    out, _ = exported_variants
    codes = loaded.model.encode(examples["image"][:1], examples["keypoints"][:1])
    args = []
    for name, value in (("foreground", codes["foreground"]), ("background", codes["background"]),
                        ("target_keypoints", examples["keypoints"][1:2])):
        np.save(tmp_path / f"{name}.npy", np.asarray(value))
        args.append(f"--input={name}={tmp_path / name}.npy")
    assert client.main(["--endpoint=decode", f"--variants={out}", *args,
                        f"--out={tmp_path / 'o.npy'}"]) == 0
    printed = capsys.readouterr().out
    _, found = variants.read(out)
    best = variants.choose(found, "decode")
    assert f"variant: {best.file}" in printed
    assert np.load(tmp_path / "o.npy").shape == (1, loaded.dims.height, loaded.dims.width, 3)
    # Forcing a variant below the bar serves it with one warning line.
    assert client.main(["--endpoint=decode", f"--variants={out}", "--variant=dpig_decode_int8",
                        *args]) == 0
    assert "warning: dpig_decode_int8.tflite is NOT faithful" in capsys.readouterr().err
