"""How the components' ``defs.yaml`` attributes that are plain names are resolved: without Jinja.

Dagster renders every string attribute of a component as a Jinja template. That imports jinja2 and
compiles a template per attribute: about 30 ms of every load of the code location (webserver, daemon,
every run worker and step pod; issue 12's import budget, ``benchmarks/imports.py``), although the
attributes here are names (``product: dtm``, ``network: meteo``) and hold no template.

:data:`PLAIN_NAME` resolves such a name as itself, which is exactly what rendering it would give: a
Python identifier has no template syntax and is not a literal that Jinja's native rendering would turn
into a value (keywords such as ``True`` or ``None`` are, so they are rendered). Any other value is
rendered as before, so a template written there still works.
"""

import keyword
from typing import Any

import dagster as dg


def resolve_name(context: dg.ResolutionContext, value: Any) -> Any:
    """``value`` itself when it is a plain name, else ``value`` rendered as Dagster renders attributes."""
    if isinstance(value, str) and value.isidentifier() and not keyword.iskeyword(value):
        return value
    return context.resolve_value(value)


PLAIN_NAME = dg.Resolver(resolve_name, inject_before_resolve=False)
"""Resolver of a name attribute: ``Annotated[str, PLAIN_NAME]``."""
