"""Dependency injection."""

from .container import Container, ContainerScope
from .decorators import DynamicModule, Inject, Provide, inject, inject_all, injectable, module, provide
from .scope import Scope
from .tokens import CONTEXT, Token, create_token

__all__ = [
    "CONTEXT",
    "Container",
    "ContainerScope",
    "DynamicModule",
    "Inject",
    "Provide",
    "Scope",
    "Token",
    "create_token",
    "inject",
    "inject_all",
    "injectable",
    "module",
    "provide",
]
