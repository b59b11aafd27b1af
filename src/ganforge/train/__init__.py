"""Training: the loop, checkpoints and monitoring."""
from ..checkpoint import load_checkpoint, save_checkpoint
from .loop import TrainResult, fit, prepare
from ..device import resolve_device, resolve_precision
from .trainer import GANTrainer

__all__ = ["GANTrainer", "TrainResult", "fit", "prepare", "resolve_device", "resolve_precision",
           "load_checkpoint", "save_checkpoint"]
