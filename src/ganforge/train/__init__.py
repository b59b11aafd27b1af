"""Training: the loop, checkpoints and monitoring."""
from .checkpoint import load_checkpoint, save_checkpoint
from .loop import TrainResult, fit, prepare
from .trainer import GANTrainer, resolve_device, resolve_precision

__all__ = ["GANTrainer", "TrainResult", "fit", "prepare", "resolve_device", "resolve_precision",
           "load_checkpoint", "save_checkpoint"]
