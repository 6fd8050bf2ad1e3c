"""LossLab's training engine: pure PyTorch, no Django. `train(config, reporter) -> TrainResult`."""
