"""The compile stage: ONNX -> Relax -> edgebuild's passes and schedule rules -> model.so (TVM)."""
