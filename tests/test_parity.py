"""The two implementations offer the same API: the same public names, the
same parameters with the same defaults, the same docstrings.  Behaviour is
compared by the rest of the suite; this keeps the surfaces from drifting."""

from __future__ import annotations

import importlib
import inspect
import traceback
from typing import Any

import pytest
from support import C_MODULE, PY_MODULE

import ringchan

pytestmark = pytest.mark.c_extension

CLASSES = ("Sender", "Receiver", "Permit", "WeakSender")
PROTOCOL = {
    "__aiter__",
    "__anext__",
    "__iter__",
    "__next__",
    "__len__",
    "__enter__",
    "__exit__",
    "__aenter__",
    "__aexit__",
}


@pytest.fixture(scope="module")
def modules() -> tuple[Any, Any]:
    return importlib.import_module(C_MODULE), importlib.import_module(PY_MODULE)


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_") or name in PROTOCOL}


def parameters(func: Any) -> list[tuple[str, Any]]:
    """Names and defaults, self left out: how a caller sees the method."""
    signature = inspect.signature(func)
    return [(p.name, p.default) for p in signature.parameters.values() if p.name != "self"]


def test_module_exports(modules):
    c, py = modules
    assert set(c.__all__) == set(py.__all__)
    for name in c.__all__:
        assert getattr(c, name) is not getattr(py, name), name


@pytest.mark.parametrize("name", CLASSES)
def test_classes_offer_the_same_methods(modules, name):
    c, py = (getattr(module, name) for module in modules)
    assert public(c) == public(py)
    assert inspect.getdoc(c) == inspect.getdoc(py)


@pytest.mark.parametrize("name", CLASSES)
def test_methods_take_the_same_parameters_and_say_the_same(modules, name):
    c, py = (getattr(module, name) for module in modules)
    # The protocol methods are the language's: slot wrappers on the C side,
    # with neither signature nor docstring of their own.
    for method in sorted(public(c) - PROTOCOL):
        c_attr, py_attr = getattr(c, method), getattr(py, method)
        assert inspect.getdoc(c_attr) == inspect.getdoc(py_attr), method
        if callable(c_attr):
            assert parameters(c_attr) == parameters(py_attr), method


@pytest.mark.parametrize("name", ["channel", "unbounded_channel", "oneshot", "from_iterable"])
def test_functions_match(modules, name):
    c, py = (getattr(module, name) for module in modules)
    assert parameters(c) == parameters(py)
    assert [p.kind for p in inspect.signature(c).parameters.values()] == [
        p.kind for p in inspect.signature(py).parameters.values()
    ]
    assert inspect.getdoc(c) == inspect.getdoc(py)


def test_the_c_methods_have_signatures():
    """help() and inspect.signature work on the compiled methods too."""
    c = importlib.import_module(C_MODULE)
    assert parameters(c.Sender.send) == [("item", inspect.Parameter.empty)]
    assert parameters(c.Sender.blocking_send) == [
        ("item", inspect.Parameter.empty),
        ("timeout", None),
    ]
    assert parameters(c.Receiver.batches) == [
        ("max_items", inspect.Parameter.empty),
        ("max_wait", inspect.Parameter.empty),
    ]


@pytest.mark.parametrize("name", [*CLASSES, "channel", "unbounded_channel", "oneshot"])
def test_both_take_the_item_type_in_brackets(modules, name):
    for module in modules:
        alias = getattr(module, name)[int]
        assert alias.__origin__ is getattr(module, name) and alias.__args__ == (int,)


def test_public_names_report_ringchan_as_their_module(modules):
    for module in (*modules, ringchan):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj):
                assert obj.__module__ == "ringchan", (module.__name__, name)
                assert obj.__qualname__ == name, (module.__name__, name)
        assert repr(module.Sender) == "<class 'ringchan.Sender'>"
    shown = traceback.format_exception_only(ringchan.Closed("x", "item"))
    assert shown[-1].startswith("ringchan.Closed"), shown
