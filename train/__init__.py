"""AR-Net Edge desktop side: models, data, training, evaluation, cost tables (PyTorch)."""
