"""export/int8_layers.py: per-layer statistics and the float-layer ablation."""

import json

import pytest

from export import int8_layers


@pytest.mark.large
def test_the_heatmap_arithmetic_is_what_breaks_int8(run_dir, tmp_path):
    result = int8_layers.analyse(str(run_dir), str(tmp_path), num_calibration=4, num_test=2)
    assert json.loads((tmp_path / int8_layers.RESULT_FILE).read_text()) == result
    assert (tmp_path / int8_layers.CSV_FILE).read_text().startswith("op_name,")
    assert result["worst_layers"] and all(r["rmse_over_scale"] >= 0
                                          for r in result["worst_layers"])
    ablation = result["ablation"]
    assert not ablation["full int8 (nothing float)"]["faithful"]
    assert ablation["keypoint/heatmap arithmetic float"]["faithful"]
    mixed = [v for k, v in ablation.items() if k.endswith("(int8_mixed)")]
    assert mixed and mixed[0]["faithful"]
