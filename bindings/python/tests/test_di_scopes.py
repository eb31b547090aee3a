import pytest

from conftest import run
from omnitron import CONTEXT, Container, Inject, create_token, inject, injectable
from omnitron.errors import ContainerDisposedError, ScopeRequiredError, ScopeViolationError


def counter():  # type: ignore[no-untyped-def]
    n = [0]

    def make() -> int:
        n[0] += 1
        return n[0]

    return make


def test_scoped_providers_get_one_instance_per_scope() -> None:
    T = create_token("PerRequest")
    c = Container()
    c.register(T, use_factory=counter(), scope="scoped")
    s1, s2 = c.create_scope(), c.create_scope()
    assert (s1.resolve(T), s1.resolve(T), s2.resolve(T)) == (1, 1, 2)


def test_request_is_a_name_for_scoped() -> None:
    T = create_token("Req")
    c = Container()
    c.register(T, use_factory=counter(), scope="request")
    s = c.create_scope({"request": "r1"})
    assert s.resolve(T) == s.resolve(T)
    with pytest.raises(ScopeRequiredError):
        c.resolve(T)


def test_scoped_outside_a_scope_names_the_path() -> None:
    Req, Helper = create_token("RequestContext"), create_token("Helper")
    c = Container()
    c.register(Req, use_factory=counter(), scope="scoped")
    c.register(Helper, use_factory=lambda x: x, inject=[Req], scope="transient")
    with pytest.raises(ScopeRequiredError, match="create_?[Ss]cope"):
        c.resolve(Req)
    with pytest.raises(ScopeRequiredError, match="Helper -> RequestContext"):
        c.resolve(Helper)
    assert c.create_scope().resolve(Helper) == 1


def test_a_singleton_depending_on_scoped_is_refused_with_the_path() -> None:
    Req, Fmt, Svc = create_token("RequestContext"), create_token("Formatter"), create_token("UserService")
    c = Container()
    c.register(Req, use_factory=counter(), scope="scoped")
    c.register(Fmt, use_factory=lambda x: x, inject=[Req], scope="transient")
    c.register(Svc, use_factory=lambda x: x, inject=[Fmt])
    with pytest.raises(ScopeViolationError, match="UserService -> Formatter -> RequestContext") as e:
        c.create_scope().resolve(Svc)
    assert e.value.code == "DI006"


def test_singletons_in_scopes_are_the_containers() -> None:
    T = create_token("Shared")
    c = Container()
    c.register(T, use_factory=object)
    assert c.create_scope().resolve(T) is c.create_scope().resolve(T) is c.resolve(T)


def test_context_gives_the_scope_context() -> None:
    @injectable(scope="scoped")
    class Greeting:
        def __init__(self, ctx: Inject[CONTEXT]) -> None:
            self.ctx = ctx

        def text(self) -> str:
            return f"hello {self.ctx['user']}"

    c = Container(context={"user": "root"})
    c.register(Greeting)
    c.register("Who", use_factory=lambda ctx: ctx["user"], inject=["CONTEXT"], scope="transient")
    s = c.create_scope({"user": "ada"})
    assert s.resolve(Greeting).text() == "hello ada"
    assert s.context == {"user": "ada"}
    assert c.resolve("Who") == "root"
    assert s.resolve("Who") == "ada"


def test_a_disposed_scope_refuses_to_resolve() -> None:
    T = create_token("T")
    c = Container()
    c.register(T, use_value=1)
    s = c.create_scope()
    run(s.close())
    with pytest.raises(ContainerDisposedError):
        s.resolve(T)


def test_scopes_are_async_context_managers() -> None:
    log = []

    class Conn:
        def on_destroy(self) -> None:
            log.append("closed")

    T = create_token("Conn")
    c = Container()
    c.register(T, use_factory=Conn, scope="scoped")

    async def main() -> None:
        async with c.create_scope() as s:
            s.resolve(T)

    run(main())
    assert log == ["closed"]
    _ = inject
