import pytest

from omnitron import Container, Inject, create_token, injectable
from omnitron.errors import CircularDependencyError, MissingProviderError, OmnitronError


def test_a_cycle_names_the_whole_path() -> None:
    A, B, C = create_token("A"), create_token("B"), create_token("C")
    c = Container()
    c.register(A, use_factory=lambda b: 1, inject=[B])
    c.register(B, use_factory=lambda c_: 1, inject=[C])
    c.register(C, use_factory=lambda a: 1, inject=[A])
    with pytest.raises(CircularDependencyError, match="A -> B -> C -> A") as e:
        c.resolve(A)
    assert e.value.code == "DI002"
    with pytest.raises(CircularDependencyError, match="B -> C -> A -> B"):
        c.resolve(B)


def test_a_missing_provider_names_token_dependent_path_suggestions_fixes() -> None:
    Repo, Db = create_token("UserRepository"), create_token("Database")

    @injectable
    class UserService:
        def __init__(self, repo: Inject[Repo]) -> None:
            self.repo = repo

    c = Container()
    c.register(UserService)
    c.register(Repo, use_factory=lambda db: 1, inject=["Databse"])
    c.register(Db, use_value=1)
    with pytest.raises(MissingProviderError) as e:
        c.resolve(UserService)
    m = str(e.value)
    assert e.value.code == "DI001"
    assert "no provider for 'Databse' (required by 'UserRepository')" in m
    assert "UserService -> UserRepository -> Databse" in m
    assert "Did you mean 'Database'?" in m
    assert "Add 'Databse' to the providers" in m
    assert "Import a module that exports" in m
    assert "@injectable" in m
    assert isinstance(e.value, LookupError) and isinstance(e.value, OmnitronError)
