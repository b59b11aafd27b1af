"""Using a trained generator: interpolation walks, latent vector arithmetic, nearest neighbours,
and for a style-based G style mixing and projection.

Each tool has a function that computes (returning plain tensors and numbers, for notebooks and
tests) and a function that draws a labelled PNG a person can read:

* :mod:`.interpolation` - :func:`interpolate`, :func:`save_interpolation`;
* :mod:`.vector_arithmetic` - :func:`arithmetic`, :func:`arithmetic_figure`, :func:`save_arithmetic`;
* :mod:`.nearest` - :func:`neighbours`, :func:`neighbours_figure`, :func:`save_neighbours`, :func:`knn`;
* :mod:`.spaces` - :func:`latent_space`: Z, or W of a style-based G, for interpolation and arithmetic;
* :mod:`.style_mixing` - :func:`style_mix`, :func:`style_mix_figure`, :func:`save_style_mix` (StyleGAN2);
* :mod:`.projection` - :func:`project`, :func:`save_projection`, :func:`load_projection` (StyleGAN2);
* :mod:`.figures` - the shared drawing (:func:`draw_figure`, :func:`save_animation`);
* :mod:`.classifier` - :func:`find_evaluator` (the metrics classifier as plain callables) and
  :func:`run_class_names`.

The latent maths lives in :mod:`ganforge.latent`.
"""
from .classifier import Classify, Features, ToolClassifier, find_evaluator, run_class_names
from .figures import Cell, Row, draw_figure, save_animation
from .interpolation import Interpolation, interpolate, save_interpolation
from .nearest import Neighbours, knn, neighbours, neighbours_figure, save_neighbours
from .projection import Projection, load_projection, project, read_target, save_projection
from .spaces import LatentSpace, latent_space
from .style_mixing import StyleMix, save_style_mix, style_mix, style_mix_figure
from .vector_arithmetic import ArithmeticResult, ConceptRow, arithmetic, arithmetic_figure, save_arithmetic

__all__ = [
    "ToolClassifier", "Classify", "Features", "find_evaluator", "run_class_names", "Cell", "Row", "draw_figure",
    "save_animation", "Interpolation", "interpolate", "save_interpolation", "ConceptRow", "ArithmeticResult",
    "arithmetic", "arithmetic_figure", "save_arithmetic", "knn", "Neighbours", "neighbours", "neighbours_figure",
    "save_neighbours", "LatentSpace", "latent_space", "StyleMix", "style_mix", "style_mix_figure", "save_style_mix",
    "Projection", "project", "read_target", "save_projection", "load_projection",
]
