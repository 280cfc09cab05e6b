"""Export of trained AR-Net models to device formats (ONNX, TFLite, ExecuTorch) + manifest."""
