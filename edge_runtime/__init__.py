"""AR-Net Edge device runtime: torch-free (numpy, OpenCV, one interpreter)."""
