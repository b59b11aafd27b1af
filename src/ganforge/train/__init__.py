"""Training: the trainer and how it is assembled, the step's phases, the model families'
plug-ins, the loop, and what runs beside it (many processes, CUDA graphs, diagnostics,
evaluation during training)."""
from ..checkpoint import load_checkpoint, save_checkpoint
from ..device import resolve_device, resolve_precision
from .builder import build_trainer
from .loop import TrainResult, fit, prepare
from .trainer import GANTrainer

__all__ = ["GANTrainer", "build_trainer", "TrainResult", "fit", "prepare", "resolve_device", "resolve_precision",
           "load_checkpoint", "save_checkpoint"]
