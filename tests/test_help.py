"""What a user reads with help(): every public module, class and function says what it is.

The public names are those of `td`, `td.nn`, `td.nn.functional`, `td.nn.init`, `td.nn.utils`,
`td.optim`, `td.optim.lr_scheduler` and `td.autograd`: a namespace's `__all__` where it has one;
otherwise, for a package, what it imports from tinygrad_drop, and for a module, what it defines
itself (not what it imports to do its work). Each such class and function, and each public method
of those classes, has a docstring (its own or, for an override such as a layer's `forward`, the
one it overrides, as `help()` shows). Dunder methods need none, but for them too, and for every
method of those classes, pydoc must not show a section-divider comment (`# ---- arithmetic ----`)
in place of the missing docstring: `pydoc` falls back to the comment lines right above a `def`.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import pydoc
import re
from types import ModuleType

import pytest

import tinygrad_drop as td
import tinygrad_drop.nn.functional
import tinygrad_drop.nn.init
import tinygrad_drop.nn.utils
import tinygrad_drop.optim.lr_scheduler

NAMESPACES = [td, td.nn, td.nn.functional, td.nn.init, td.nn.utils, td.optim, td.optim.lr_scheduler, td.autograd]
DIVIDER = re.compile(r"^#.*-{4,}", re.M)


def ours(obj) -> bool:
    return getattr(obj, "__module__", "").split(".")[0] == "tinygrad_drop"


def public_names(namespace: ModuleType) -> list[str]:
    if hasattr(namespace, "__all__"):
        return list(namespace.__all__)
    is_package = hasattr(namespace, "__path__")
    return [name for name, obj in vars(namespace).items()
            if not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
            and (ours(obj) if is_package else obj.__module__ == namespace.__name__)]


def public_objects() -> dict[str, object]:
    """'td.nn.Linear' -> the class, for every public class and function (modules are checked apart)."""
    found = {}
    for namespace in NAMESPACES:
        for name in public_names(namespace):
            obj = getattr(namespace, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found[f"{namespace.__name__}.{name}"] = obj
    return found


def methods(cls: type) -> dict[str, object]:
    """Every method and property of the class defined in tinygrad_drop (its own or inherited)."""
    found = {}
    for klass in reversed(cls.__mro__):
        if ours(klass):
            for name, member in vars(klass).items():
                if inspect.isfunction(member) or isinstance(member, (property, staticmethod, classmethod)):
                    found[name] = getattr(cls, name)
    return found


OBJECTS = public_objects()
CLASSES = {name: obj for name, obj in OBJECTS.items() if inspect.isclass(obj)}


def test_the_public_names_are_found():
    assert {"tinygrad_drop.Tensor", "tinygrad_drop.tensor", "tinygrad_drop.nn.Linear", "tinygrad_drop.nn.Module",
            "tinygrad_drop.nn.functional.dropout", "tinygrad_drop.optim.AdamW", "tinygrad_drop.optim.SGD",
            "tinygrad_drop.optim.Optimizer", "tinygrad_drop.optim.lr_scheduler.CosineWithWarmup"} <= set(OBJECTS)
    assert "tinygrad_drop.nn.functional.Tensor" not in OBJECTS  # imported to do its work, not its API
    assert {"__add__", "sum", "shape", "backward"} <= set(methods(td.Tensor))


def test_every_module_of_the_package_has_a_docstring():
    names = [info.name for info in pkgutil.walk_packages(td.__path__, "tinygrad_drop.")]
    assert "tinygrad_drop.nn.functional" in names and len(names) > 30
    missing = [name for name in ["tinygrad_drop", *names] if not (importlib.import_module(name).__doc__ or "").strip()]
    assert missing == []


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_every_public_class_and_function_has_a_docstring(name):
    obj = OBJECTS[name]
    # a class's own docstring: inspect.getdoc would hand back its base class's
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    assert doc and doc.strip(), f"{name} has no docstring"


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_public_method_has_a_docstring(name):
    undocumented = [method for method, member in methods(CLASSES[name]).items()
                    if not method.startswith("_") and not inspect.getdoc(member)]
    assert undocumented == [], f"{name}: no docstring on {undocumented}"


@pytest.mark.parametrize("name", sorted(OBJECTS))
def test_pydoc_shows_no_divider_comment_as_documentation(name):
    obj = OBJECTS[name]
    members = {name: obj, **{f"{name}.{method}": member for method, member in methods(obj).items()
                             if not isinstance(member, property)}} if inspect.isclass(obj) else {name: obj}
    shown = {member_name: pydoc.getdoc(member) for member_name, member in members.items()}
    assert [member_name for member_name, doc in shown.items() if DIVIDER.search(doc)] == []


def test_the_divider_check_sees_what_pydoc_shows():
    assert DIVIDER.search(pydoc.getdoc(_documented_by_a_divider_only))
    assert not DIVIDER.search(pydoc.getdoc(td.Tensor.sum))


# ---- a function that pydoc documents with this divider (the test above) ----------------------
def _documented_by_a_divider_only() -> None:
    return None
