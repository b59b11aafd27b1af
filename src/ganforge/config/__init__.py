"""Typed run configuration: one :class:`RunConfig` of dataclass sections, each field carrying its
flag and help; validation whose errors name the flag; JSON load/save; dotted overrides.

* :mod:`.fields`    - what a field is (flag, help, the architectures it applies to) and how values
  are read into its type;
* :mod:`.sections`  - the generic sections: data, model, loss, optim, train, tricks;
* :mod:`.progan`, :mod:`.stylegan2` - the model families' own sections;
* :mod:`.run`       - :class:`RunConfig`, validation, ``set_field``/``apply_dict``;
* :mod:`.file`      - reading ``--config FILE`` or a run's ``config.json``.
"""
from .fields import INT64, FieldDoc, opt
from .file import RUN_RECORD_KEYS, read_config_json
from .progan import GrowConfig, parse_stage_table
from .run import (RunConfig, apply_dict, field_docs, field_flag, field_label, section_types, set_field,
                  validate)
from .sections import (AUGMENT_OPS, GENERIC_D_OPTIONS, MAX_FIXED, MAX_WIDTH, DataConfig, LossConfig, ModelConfig,
                       OptimConfig, TrainConfig, TricksConfig)
from .stylegan2 import StyleConfig

__all__ = [
    "INT64", "FieldDoc", "opt", "RUN_RECORD_KEYS", "read_config_json", "GrowConfig", "parse_stage_table",
    "RunConfig", "apply_dict", "field_docs", "field_flag", "field_label", "section_types", "set_field", "validate",
    "AUGMENT_OPS", "GENERIC_D_OPTIONS", "MAX_FIXED", "MAX_WIDTH", "DataConfig", "LossConfig", "ModelConfig",
    "OptimConfig", "TrainConfig", "TricksConfig", "StyleConfig",
]
