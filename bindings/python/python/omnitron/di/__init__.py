"""Dependency injection."""

from .container import Container, Scope
from .decorators import DynamicModule, Inject, Provide, inject, inject_all, injectable, module, provide
from .tokens import CONTEXT, Token, create_token

__all__ = [
    "CONTEXT",
    "Container",
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
