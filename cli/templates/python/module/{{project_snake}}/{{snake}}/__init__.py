"""The {{kebab}} module: import {{pascal}}Module into your AppModule to use {{pascal}}Service."""

from .module import {{pascal}}Module, {{pascal}}Repository, {{pascal}}Service

__all__ = ["{{pascal}}Module", "{{pascal}}Repository", "{{pascal}}Service"]
