"""Attribute group definitions: models, loaders and validation errors."""

from signals_batch.definitions.loader import (
    DefinitionError,
    Definitions,
    Problem,
    load_definitions,
    load_objects,
)
from signals_batch.definitions.models import Attribute, AttributeGroup

__all__ = [
    "Attribute",
    "AttributeGroup",
    "DefinitionError",
    "Definitions",
    "Problem",
    "load_definitions",
    "load_objects",
]
