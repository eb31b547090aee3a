import pytest

from conftest import run
from omnitron import Container, DynamicModule, Inject, Omnitron, create_token, injectable, module, provide
from omnitron.errors import CircularModuleImportError, InvalidModuleError, NotExportedError

Connection = create_token("Connection")
Secret = create_token("Secret")
DbOptions = create_token("DbOptions")


@module()
class DatabaseModule:
    @staticmethod
    def for_root(url: str) -> DynamicModule:
        return DynamicModule(
            module=DatabaseModule,
            providers=[
                provide(DbOptions, use_value={"url": url}),
                provide(Connection, use_factory=lambda o: f"conn:{o['url']}", inject=[DbOptions]),
                provide(Secret, use_value=42),
            ],
            exports=[Connection],
        )


@injectable
class UserRepository:
    def __init__(self, conn: Inject[Connection]) -> None:
        self.conn = conn


def test_exported_providers_are_visible_to_importers_only() -> None:
    @module(imports=[DatabaseModule.for_root("pg://a")], providers=[UserRepository], exports=[UserRepository])
    class UsersModule:
        pass

    @module(imports=[UsersModule])
    class AppModule:
        pass

    app = run(Omnitron.create(AppModule))
    assert app.get(UserRepository).conn == "conn:pg://a"
    with pytest.raises(NotExportedError, match="Import module 'DatabaseModule'"):
        app.get(Connection)
    with pytest.raises(NotExportedError, match="Add 'Secret' to the exports of module 'DatabaseModule'"):
        app.get(Secret)
    run(app.close())


def test_a_dependency_on_an_unexported_provider_names_the_path() -> None:
    @injectable
    class Consumer:
        def __init__(self, s: Inject[Secret]) -> None:
            self.s = s

    @module(imports=[DatabaseModule.for_root("pg://b")], providers=[Consumer])
    class AppModule:
        pass

    c = Container()
    c._load_root_module(AppModule)
    with pytest.raises(NotExportedError, match="Consumer -> Secret"):
        c.resolve(Consumer)


def test_omitted_exports_export_everything_empty_exports_nothing() -> None:
    A, B = create_token("A"), create_token("B")

    @module(providers=[provide(A, use_value=1)])
    class Open:
        pass

    @module(providers=[provide(B, use_value=2)], exports=[])
    class Closed:
        pass

    @module(imports=[Open, Closed])
    class App:
        pass

    app = run(Omnitron.create(App))
    assert app.get(A) == 1
    with pytest.raises(NotExportedError):
        app.get(B)


def test_global_modules_need_no_import() -> None:
    Logger = create_token("Logger")

    @module(providers=[provide(Logger, use_value="log")], is_global=True)
    class LoggingModule:
        pass

    @injectable
    class Svc:
        def __init__(self, logger: Inject[Logger]) -> None:
            self.logger = logger

    @module(providers=[Svc], exports=[Svc])
    class FeatureModule:
        pass

    @module(imports=[LoggingModule, FeatureModule])
    class App:
        pass

    assert run(Omnitron.create(App)).get(Svc).logger == "log"


def test_re_exported_modules_pass_exports_on() -> None:
    Shared = create_token("Shared")

    @module(providers=[provide(Shared, use_value=9)])
    class CoreModule:
        pass

    @module(imports=[CoreModule], exports=[CoreModule])
    class CommonModule:
        pass

    @module(imports=[CommonModule])
    class App:
        pass

    assert run(Omnitron.create(App)).get(Shared) == 9


def test_circular_module_imports_are_refused_and_name_the_loop() -> None:
    imports_a: list = []  # type: ignore[type-arg]

    @module(imports=imports_a)
    class ModuleA:
        pass

    @module(imports=[ModuleA])
    class ModuleB:
        pass

    imports_a.append(ModuleB)
    with pytest.raises(CircularModuleImportError, match="ModuleA -> ModuleB -> ModuleA"):
        run(Omnitron.create(ModuleA))


def test_importing_something_that_is_not_a_module() -> None:
    class NotAModule:
        pass

    @module(imports=[NotAModule])
    class App:
        pass

    with pytest.raises(InvalidModuleError, match="NotAModule.*@module"):
        run(Omnitron.create(App))


def test_exporting_what_a_module_lacks_is_refused() -> None:
    @module(exports=[Secret])
    class Liar:
        pass

    with pytest.raises(InvalidModuleError, match="'Liar' exports 'Secret'"):
        run(Omnitron.create(Liar))


def test_the_same_token_in_two_modules_stays_private() -> None:
    Name, AOut, BOut = create_token("Name"), create_token("AOut"), create_token("BOut")

    @module(providers=[provide(Name, use_value="a"), provide(AOut, use_factory=lambda n: n, inject=[Name])], exports=[AOut])
    class A:
        pass

    @module(providers=[provide(Name, use_value="b"), provide(BOut, use_factory=lambda n: n, inject=[Name])], exports=[BOut])
    class B:
        pass

    @module(imports=[A, B])
    class App:
        pass

    app = run(Omnitron.create(App))
    assert (app.get(AOut), app.get(BOut)) == ("a", "b")


def test_create_initializes_and_close_disposes() -> None:
    log: list[str] = []

    @injectable
    class Db:
        def on_init(self) -> None:
            log.append("init")

        def on_destroy(self) -> None:
            log.append("destroy")

    @module(providers=[Db])
    class App:
        pass

    async def main() -> None:
        async with await Omnitron.create(App) as app:
            assert log == ["init"]
            app.get(Db)

    run(main())
    assert log == ["init", "destroy"]
