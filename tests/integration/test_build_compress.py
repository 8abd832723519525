"""`invoke build --recipe=...` end to end on digits-cnn (and trained MobileNetV2 in int8): real int8 artifacts,
the table, the gate."""

import json

import pytest

from ..conftest import ROOT, invoke

pytestmark = pytest.mark.integration


def build(out, *args):
    done = invoke(ROOT, "build", *args, f"--out={out}")
    assert done.returncode == 0, done.stderr
    return json.loads((out / "manifest.json").read_text()), done


def code_and_weights(manifest) -> int:
    """What the device loads: model.so and the weights file its constants were lifted into (bundle schema 3)."""
    return sum(manifest["files"][f]["bytes"] for f in ("model.so", "model.weights") if f in manifest["files"])


@pytest.fixture(scope="module")
def rpi5(tmp_path_factory):
    root = tmp_path_factory.mktemp("rpi5")
    return build(root / "none", "--target=rpi5"), build(root / "int8", "--target=rpi5", "--recipe=int8-static")


def test_int8_static_rpi5_meets_the_accuracy_budget_and_shrinks(rpi5):
    (fp32, _), (int8, done) = rpi5
    assert fp32["metrics"]["accuracy"] - int8["metrics"]["accuracy"] <= 0.5
    assert int8["metrics"]["weight_bytes"] < 0.3 * fp32["metrics"]["weight_bytes"]
    assert code_and_weights(int8) < 0.7 * code_and_weights(fp32)


def test_int8_static_rpi5_saves_60_percent_of_fp32_weight_bytes(rpi5):
    (fp32, _), (int8, _) = rpi5
    saved = code_and_weights(fp32) - code_and_weights(int8)
    assert saved >= 0.6 * fp32["metrics"]["weight_bytes"]


def test_int8_static_mobilenetv2_passes_the_default_gate_on_the_host(tmp_path):
    # torchvision's trained weights (the seeded net never held 0.99) with the recipe's 8-bit weights for it
    manifest, _ = build(tmp_path / "mb", "--model=mobilenetv2", "--recipe=int8-static", "--calibration=random",
                        "--target=host")
    assert manifest["metrics"]["cosine_to_fp32"] >= 0.99
    assert manifest["metrics"]["max_abs_diff_vs_onnxruntime"] <= manifest["metrics"]["onnxruntime_parity_tolerance"]


def test_deep_compression_on_digits_keeps_accuracy_within_1_pt_and_shrinks_the_transfer(tmp_path):
    fp32, _ = build(tmp_path / "none")
    deep, _ = build(tmp_path / "deep", "--recipe=deep-compression")
    assert fp32["metrics"]["accuracy"] - deep["metrics"]["accuracy"] <= 1.0
    assert deep["metrics"]["weight_bytes"] < 0.2 * fp32["metrics"]["weight_bytes"]
    assert deep["metrics"]["transfer_bytes"] < 0.5 * fp32["metrics"]["transfer_bytes"]
    cluster, codebook = deep["compression"][2:4]
    assert cluster["notes"]["layers_per_bits"] == {"4": 2} and codebook["notes"]["tensors_per_index_bits"] == {"4": 2}
    assert deep["recipe"]["model_override"] is False


def test_manifest_and_output_carry_the_per_step_table(rpi5):
    _, (int8, done) = rpi5
    rows = int8["compression"]
    assert [r["technique"] for r in rows] == ["fp32", "int8-static", "compiled"]
    assert rows[-1]["metric_source"] == "compiled graph" and rows[-1]["after"] == int8["metrics"]["accuracy"]
    assert rows[1]["notes"]["calibration_samples"] == 200 and rows[1]["time_s"] >= 0
    assert int8["recipe"]["gate"] == {"max-accuracy-drop": 0.5}
    assert "compression (per step" in done.stdout and "int8-static" in done.stdout


def build_own_recipe(project, out, name, body):
    """`invoke build` of digits-cnn with a recipe written into the (temporary) project."""
    (project.recipes_dir / f"{name}.toml").write_text(body)
    return invoke(project.root, "build", f"--recipe={name}", f"--out={out}")


def test_gate_exceeded_fails_with_the_table_and_writes_no_bundle(tmp_project, tmp_path):
    out = tmp_path / "bundle"
    done = build_own_recipe(tmp_project, out, "harsh", 'description = "prune 95% with no fine-tune"\n[[steps]]\n'
                            'technique = "prune"\nsparsity = 0.95\n[gate]\nmax-accuracy-drop = 0.5\n')
    assert done.returncode == 1
    assert "exceeds its gate on the compiled graph" in done.stderr and "compiled graph" in done.stderr
    assert not out.exists() and not list(tmp_path.glob(".bundle*"))


def test_torch_recipe_on_an_onnx_file_is_refused_before_any_work(tmp_path):
    fp32_onnx = tmp_path / "src"
    manifest, _ = build(fp32_onnx, "--target=host")
    done = invoke(ROOT, "build", f"--model={fp32_onnx / 'model.onnx'}", "--recipe=prune-50", f"--out={tmp_path / 'x'}")
    assert done.returncode == 1 and "needs a PyTorch model" in done.stderr


def test_int8_static_on_an_onnx_file_needs_calibration_data_and_uses_the_file_given(tmp_path):
    import numpy as np

    from edgebuild.models.digits import dataset

    src = tmp_path / "src"
    build(src, "--target=host")
    model = f"--model={src / 'model.onnx'}"
    done = invoke(ROOT, "build", model, "--recipe=int8-static", f"--out={tmp_path / 'x'}")
    assert done.returncode == 1 and "--calibration=FILE.npz" in done.stderr
    np.savez(tmp_path / "calib.npz", image=dataset()[0][:50])
    manifest, _ = build(tmp_path / "q", model, "--recipe=int8-static", f"--calibration={tmp_path / 'calib.npz'}")
    rows = manifest["compression"]
    assert rows[1]["notes"]["calibration"] == "file calib.npz" and rows[1]["notes"]["calibration_samples"] == 50
    assert manifest["metrics"]["cosine_to_fp32"] >= 0.99  # agreement with the fp32 graph gates ONNX files
    # parity is judged on the int8 graph compiled (exactly, within one output step), not the fp32 file
    metrics = manifest["metrics"]
    assert metrics["max_abs_diff_vs_onnxruntime"] <= metrics["onnxruntime_parity_tolerance"] < 0.1


def test_sparse_kernel_above_compiles_the_pruned_linear_layer_to_csr_with_parity(tmp_project, tmp_path):
    out = tmp_path / "bundle"
    done = build_own_recipe(tmp_project, out, "sparse", 'description = "90% zeros, CSR from 80%"\n[[steps]]\n'
                            'technique = "prune"\nsparsity = 0.9\nscope = "layer"\nsparse-kernel-above = 0.8\n'
                            '[gate]\nmax-accuracy-drop = 100.0\n')
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert b"csr_matmul" in (out / "model.so").read_bytes()  # digits-cnn's Linear runs the CSR kernel
    assert manifest["metrics"]["max_abs_diff_vs_onnxruntime"] < 1e-4  # same outputs as the dense graph
