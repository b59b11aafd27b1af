"""ganforge: train GANs on images, watch them learn, resume exactly, and use the generator."""
__version__ = "0.1.0"
