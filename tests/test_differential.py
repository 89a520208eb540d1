"""One behaviour, two implementations: the same random sequence of
non-waiting operations is applied to a C channel and a pure-Python channel
in lockstep, and every result, error (type, message, ``.item``), ``len`` and
``is_closed`` must match.

The operations include awaitables stepped by hand (``op.send(None)``)
outside any event loop, which finish when nothing has to wait, and the
state compared includes how many sent items are still alive: a finished
awaitable kept by the caller must not keep its item alive in either."""

from __future__ import annotations

import gc
import importlib
import random
import weakref

import pytest
from support import C_MODULE, PY_MODULE

pytestmark = pytest.mark.c_extension


@pytest.fixture
def both_modules():
    try:
        c_module = importlib.import_module(C_MODULE)
    except Exception as exc:
        pytest.fail(f"cannot import {C_MODULE}: {exc!r}", pytrace=False)
    return c_module, importlib.import_module(PY_MODULE)


def outcome(func, *args):
    try:
        result = func(*args)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc), getattr(exc, "item", None))
    return ("returned", result)


class Token:
    """An item whose lifetime the test can watch."""

    __slots__ = ("__weakref__", "n")

    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return isinstance(other, Token) and other.n == self.n

    def __repr__(self):
        return f"Token({self.n})"


def stepped(op):
    """Step an awaitable once by hand, outside any event loop."""
    try:
        op.send(None)
    except StopIteration as stop:
        return ("finished", stop.value)
    except Exception as exc:
        return ("raised", type(exc).__name__, str(exc), getattr(exc, "item", None))
    op.close()
    return ("parked",)


class Model:
    """One channel and its sender handles, driven by operation names."""

    def __init__(self, module, capacity):
        tx, self.rx = module.channel(capacity)
        self.senders = [tx]
        self.permits = []
        self.weak = []
        #: Finished awaitables, kept on purpose, and the tokens sent through them.
        self.kept = []
        self.tokens = []

    def token(self, n):
        token = Token(n)
        self.tokens.append(weakref.ref(token))
        return token

    def apply(self, op, arg, pick):
        rx = self.rx
        tx = self.senders[pick % len(self.senders)]
        if op == "step_send":
            awaitable = tx.send(self.token(arg))
            self.kept.append(awaitable)
            return stepped(awaitable)
        if op == "step_send_many":
            awaitable = tx.send_many([self.token(arg + i) for i in range(pick % 3)])
            self.kept.append(awaitable)
            return stepped(awaitable)
        if op == "step_recv":
            return stepped(rx.recv())
        if op == "step_recv_many":
            return stepped(rx.recv_many(1 + pick % 3))
        if op == "try_send":
            return outcome(tx.try_send, arg)
        if op == "try_send_many":
            return outcome(tx.try_send_many, list(range(arg, arg + pick % 5)))
        if op == "blocking_send":
            return outcome(tx.blocking_send, arg, 0)
        if op == "blocking_send_many":
            return outcome(tx.blocking_send_many, list(range(arg, arg + pick % 4)), 0)
        if op == "try_recv":
            return outcome(rx.try_recv)
        if op == "try_recv_many":
            return outcome(rx.try_recv_many, 1 + pick % 4)
        if op == "blocking_recv":
            return outcome(rx.blocking_recv, 0)
        if op == "blocking_recv_many":
            return outcome(rx.blocking_recv_many, 1 + pick % 3, 0)
        if op == "clone":
            result = outcome(tx.clone)
            if result[0] == "returned":
                self.senders.append(result[1])
                return ("returned", "clone")
            return result
        if op == "close_sender":
            return outcome(tx.close)
        if op == "drop_sender":
            if len(self.senders) > 1:
                self.senders.remove(tx)
            return ("returned", None)
        if op == "close_receiver":
            return outcome(rx.close)
        if op == "try_peek":
            return outcome(rx.try_peek)
        if op == "blocking_peek":
            return outcome(rx.blocking_peek, 0)
        if op == "step_peek":
            return stepped(rx.peek())
        if op == "commit":
            return outcome(rx.commit)
        if op == "unget":
            # What a cancelled batches() step does with the items it took.
            taken = outcome(rx.try_recv_many, 1 + pick % 3)
            if taken[0] == "returned":
                rx._unget(taken[1][: pick % 4])
            return taken
        if op == "stats":
            return outcome(rx.stats)
        if op == "try_reserve":
            result = outcome(tx.try_reserve_many, 1 + pick % 2)
            if result[0] == "returned":
                self.permits.append(result[1])
                return ("returned", len(result[1]))
            return result
        if op == "permit_send":
            if not self.permits:
                return ("none",)
            permit = self.permits[pick % len(self.permits)]
            return outcome(permit.send, self.token(arg))
        if op == "permit_release":
            if not self.permits:
                return ("none",)
            return outcome(self.permits.pop(pick % len(self.permits)).release)
        if op == "downgrade":
            self.weak.append(tx.downgrade())
            return ("returned", "weak")
        if op == "upgrade":
            if not self.weak:
                return ("none",)
            result = outcome(self.weak[pick % len(self.weak)].upgrade)
            if result[0] == "returned" and result[1] is not None:
                self.senders.append(result[1])
                return ("returned", "sender")
            return result
        raise AssertionError(op)

    def state(self):
        return (
            len(self.rx),
            self.rx.capacity,
            self.rx.is_closed,
            [s.is_closed for s in self.senders],
            [len(s) for s in self.senders],
            sum(ref() is not None for ref in self.tokens),
            [len(permit) for permit in self.permits],
            (self.rx.sender_count, self.rx.weak_sender_count),
        )


OPS = (
    ["try_send"] * 6
    + ["try_send_many"] * 3
    + ["blocking_send"] * 2
    + ["blocking_send_many"] * 2
    + ["try_recv"] * 5
    + ["try_recv_many"] * 3
    + ["blocking_recv"] * 2
    + ["blocking_recv_many"] * 2
    + ["clone"] * 2
    + ["close_sender", "drop_sender"]
    + ["step_send"] * 3
    + ["step_send_many", "step_recv", "step_recv_many"]
    + ["try_peek"] * 2
    + ["blocking_peek", "step_peek", "unget", "stats"]
    + ["commit"] * 2
    + ["try_reserve"] * 2
    + ["permit_send"] * 2
    + ["permit_release", "downgrade", "upgrade"]
)


@pytest.mark.parametrize("seed", range(30))
def test_random_operations_match(both_modules, seed):
    rng = random.Random(seed)
    capacity = rng.choice([1, 2, 3, 5, 8])
    c_module, py_module = both_modules
    c, py = Model(c_module, capacity), Model(py_module, capacity)
    for step in range(300):
        op = rng.choice(OPS + (["close_receiver"] if rng.random() < 0.01 else []))
        arg, pick = rng.randrange(1000), rng.randrange(1000)
        got_c = c.apply(op, arg, pick)
        got_py = py.apply(op, arg, pick)
        assert got_c == got_py, (step, op)
        if c.state() != py.state():
            # A dropped handle is closed once it is freed; when that happens
            # is tested in test_gc.py, so compare after a collection here.
            gc.collect()
        assert c.state() == py.state(), (step, op)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda m: m.channel(0), id="capacity-0"),
        pytest.param(lambda m: m.channel(True), id="capacity-True"),
        pytest.param(lambda m: m.channel(1 << 40), id="capacity-huge"),
        pytest.param(lambda m: m.channel(2)[1].try_recv_many(0), id="max_items-0"),
        pytest.param(lambda m: m.channel(2)[1].blocking_recv(timeout=-1), id="timeout-neg"),
        pytest.param(lambda m: m.channel(2)[1].blocking_recv(timeout="x"), id="timeout-str"),
        pytest.param(lambda m: m.channel(2)[0].try_send_many(iter([1])), id="not-sequence"),
        pytest.param(lambda m: m.channel(2)[1].try_recv(), id="empty"),
    ],
)
def test_argument_errors_match(both_modules, call):
    c_module, py_module = both_modules
    assert outcome(call, c_module) == outcome(call, py_module)
