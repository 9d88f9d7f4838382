"""Every public function, class and method of the package has a numpydoc docstring.

Public means: in a module whose dotted name has no part starting with an
underscore (the command line, ``__main__``, included), listed in its
``__all__`` (or, without one, not starting with an underscore), defined in the
package, and, for a class, its methods and properties that do not start with
an underscore.  A docstring counts when it has a summary line, documents every
parameter of the signature (in *Parameters*, or for a class also in
*Attributes*), and has a *Returns* (or *Yields*) section when the code returns
a value.  An override without a docstring inherits its parent's, as in the
rendered documentation.
"""

import ast
import importlib
import inspect
import pkgutil
import textwrap

import pytest

import sklearn_aimc

docscrape = pytest.importorskip("numpydoc.docscrape")

def _public_modules():
    names = ["sklearn_aimc"]
    for info in pkgutil.walk_packages(sklearn_aimc.__path__, "sklearn_aimc."):
        parts = info.name.split(".")[1:]
        if not any(part.startswith("_") and part != "__main__" for part in parts):
            names.append(info.name)
    modules = []
    for name in names:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:  # a module of an optional extra (torch) that is missing
            if "torch" not in str(exc):
                raise
    return modules


def _public_objects():
    seen = {}
    for module in _public_modules():
        names = getattr(module, "__all__", None)
        if names is None:
            names = [name for name in vars(module) if not name.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("sklearn_aimc"):
                continue
            qualname = f"{obj.__module__}.{obj.__qualname__}"
            seen.setdefault(qualname, (obj, None))
            if not inspect.isclass(obj):
                continue
            # its own methods and those of the package's (private) base classes
            for klass in obj.__mro__:
                if not klass.__module__.startswith("sklearn_aimc"):
                    continue
                for member_name, member in vars(klass).items():
                    if member_name.startswith("_"):
                        continue
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if isinstance(member, property) or inspect.isfunction(member):
                        seen.setdefault(f"{qualname}.{member_name}", (member, obj))
    return seen


def _returns_a_value(function):
    """True if the body (nested functions aside) has a ``return`` or ``yield`` with a value."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return False
    pending = list(ast.iter_child_nodes(ast.parse(source).body[0]))
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Return, ast.Yield, ast.YieldFrom)):
            value = node.value
            if value is not None and not (isinstance(value, ast.Constant) and value.value is None):
                return True
        pending.extend(ast.iter_child_nodes(node))
    return False


def _documented_names(sections):
    names = set()
    for section in sections:
        for parameter in section:
            for name in parameter.name.split(","):
                names.add(name.strip().lstrip("*"))
    return names


def _problems(obj, owner):
    """What the docstring of ``obj`` lacks (an empty list when it is complete)."""
    if isinstance(obj, property):
        doc = inspect.getdoc(obj.fget)
        return [] if doc and doc.strip() else ["no docstring"]
    if owner is not None:
        doc = inspect.getdoc(getattr(owner, obj.__name__))  # inherited when not overridden
    else:
        doc = inspect.getdoc(obj)
    if not doc or not doc.strip():
        return ["no docstring"]
    parsed = docscrape.NumpyDocString(doc)
    problems = [] if parsed["Summary"] else ["no summary line"]
    if inspect.isclass(obj):
        signature_of, sections = obj.__init__, [parsed["Parameters"], parsed["Attributes"]]
        if not getattr(obj.__init__, "__module__", "").startswith("sklearn_aimc"):
            return problems  # the constructor of a base class outside the package
    else:
        signature_of, sections = obj, [parsed["Parameters"], parsed["Other Parameters"]]
    try:
        parameters = inspect.signature(signature_of).parameters
    except (TypeError, ValueError):
        parameters = {}
    documented = _documented_names(sections)
    missing = [name for name in parameters
               if name not in ("self", "cls") and not name.startswith("_") and name not in documented]
    if missing:
        problems.append(f"parameters not documented: {missing}")
    if not inspect.isclass(obj) and _returns_a_value(obj) and not (parsed["Returns"] or parsed["Yields"]):
        problems.append("no Returns section")
    return problems


OBJECTS = _public_objects()


def test_the_walk_finds_the_api():
    for name in ("sklearn_aimc.kernel_approx.AnalogRandomFourierFeatures.transform",
                 "sklearn_aimc.datasets.load_benchmark",
                 "sklearn_aimc.experiments.kernel_ridge.reproduce",
                 "sklearn_aimc.experiments.drift.run_drift_study",
                 "sklearn_aimc.__main__.main",
                 "sklearn_aimc.fixedpoint.NearMemoryUnit.apply"):
        assert name in OBJECTS
    assert len(OBJECTS) > 80


@pytest.mark.parametrize("qualname", sorted(OBJECTS))
def test_public_api_has_numpydoc_docstrings(qualname):
    problems = _problems(*OBJECTS[qualname])
    assert not problems, f"{qualname}: {'; '.join(problems)}"
