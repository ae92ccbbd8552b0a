"""Package names that load their module on first use (PEP 562), for the packages whose imports
are costly: a command that needs one name must not pay for the rest (torch, MLflow, pandas)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_getattr(package: str, homes: Mapping[str, tuple[str, ...]], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``homes`` maps each module (by its full name, so
    ``graphfuse dvc-deps`` counts it as an import of the package) to the names it gives; a name's
    module is imported on first use and the name kept in ``namespace``. (``__all__`` stays a
    literal list in the package, where linters and type checkers read the re-exports.)"""
    home_of = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        module = home_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
