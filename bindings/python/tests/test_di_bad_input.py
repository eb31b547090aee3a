from typing import Any

import pytest

from conftest import run
from omnitron import Container, Omnitron, create_token, inject, injectable, module, provide
from omnitron.errors import InvalidArgumentError, InvalidModuleError, InvalidProviderError, InvalidScopeError


def test_undecorated_or_non_classes_are_refused() -> None:
    c = Container()

    class Plain:
        def __init__(self, x: int) -> None:
            self.x = x

    with pytest.raises(InvalidProviderError, match="parameter 'x' of 'Plain' \\(it is typed int\\)"):
        c.register(Plain)
    for bad in (42, lambda: 1, "x"):
        with pytest.raises((InvalidProviderError, InvalidArgumentError)):
            c.register(bad)
    T = create_token("X")
    with pytest.raises(InvalidProviderError):
        c.register(T, use_class="nope")
    with pytest.raises(InvalidProviderError):
        c.register(T, use_factory=5)
    with pytest.raises(InvalidProviderError, match="exactly one"):
        c.register(T, use_value=1, use_factory=lambda: 1)
    with pytest.raises(InvalidProviderError):
        c.register(T, use_factory=lambda: 1, inject="A")  # type: ignore[arg-type]
    with pytest.raises(InvalidProviderError, match=r"inject\(A, optional=True\)"):
        c.register(T, use_factory=lambda a: 1, inject=[("A", {"optional": True})])


def test_invalid_tokens_are_refused() -> None:
    c = Container()
    for name in ("", "   ", None, 3):
        with pytest.raises(InvalidArgumentError):
            create_token(name)  # type: ignore[arg-type]
    for tok in (None, "", 12, 1.5):
        with pytest.raises(InvalidArgumentError):
            c.register(tok, use_value=1)
    with pytest.raises(InvalidArgumentError, match="not hashable"):
        c.resolve([])  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        c.resolve(None)
    with pytest.raises(InvalidArgumentError):
        inject(None)
    # A wrong type is also a TypeError, as Python code expects.
    with pytest.raises(TypeError):
        c.resolve(3.5)


def test_unknown_scope_names_are_refused() -> None:
    c = Container()
    with pytest.raises(InvalidScopeError, match="forever"):
        c.register(create_token("X"), use_factory=lambda: 1, scope="forever")

    # Refused as soon as the decorator is applied.
    with pytest.raises(InvalidScopeError, match="weekly"):
        injectable(scope="weekly")
    with pytest.raises(InvalidArgumentError):
        injectable(scope=3)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="scope is int 5"):
        c.register(create_token("Y"), use_value=1, scope=5)  # type: ignore[arg-type]


def test_a_parameter_whose_type_cannot_be_read_is_refused_with_the_fix() -> None:
    @injectable
    class NoHint:
        def __init__(self, logger) -> None:  # type: ignore[no-untyped-def]
            self.logger = logger

    @injectable
    class Primitive:
        def __init__(self, port: int) -> None:
            self.port = port

    c = Container()
    with pytest.raises(InvalidProviderError, match="parameter 'logger' of 'NoHint'"):
        c.register(NoHint)
    with pytest.raises(InvalidProviderError, match="parameter 'port' of 'Primitive'.*Inject"):
        c.register(Primitive)


def test_decorators_refuse_non_classes() -> None:
    with pytest.raises(InvalidArgumentError):
        injectable(lambda: 1)  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError):
        module()(42)  # type: ignore[type-var]


def test_bad_module_contents_are_refused() -> None:
    @module(providers="nope")  # type: ignore[arg-type]
    class Bad:
        pass

    with pytest.raises(InvalidModuleError):
        run(Omnitron.create(Bad))

    @module(providers=[42])
    class Bad2:
        pass

    with pytest.raises(InvalidProviderError, match="module 'Bad2'"):
        run(Omnitron.create(Bad2))
    with pytest.raises(InvalidModuleError):
        run(Omnitron.create(object))

    @module(imports=[None])
    class Bad3:
        pass

    with pytest.raises(InvalidModuleError, match="None"):
        run(Omnitron.create(Bad3))
    _: Any = provide
