"""``Frozen`` and ``Mutable``: what ``@dataclass`` gives a class, without compiling its methods at import.

On CPython 3.11 a frozen dataclass compiles ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``,
``__setattr__`` and ``__delattr__`` in six ``exec`` calls: about 0.7 ms a class, paid by every process
that imports it. The classes every turn and every skill build use (the envelope's, the interaction
model's) are instead declared ``@dataclass(**RECORD)`` (so ``fields``, ``asdict`` and ``replace`` work),
inherit :class:`Frozen`, and write their own ``__init__`` with :func:`set_field`::

    @dataclass(**RECORD)
    class User(Frozen):
        user_id: str | None = None

        def __init__(self, user_id: str | None = None) -> None:
            set_field(self, "user_id", user_id)

A field whose default is a new dict (``field(default_factory=dict)``) takes ``NEW_DICT`` as its
``__init__`` default and stores ``{}`` for it. A class whose fields may change (a plain ``@dataclass``)
inherits :class:`Mutable` instead and sets its fields in ``__init__`` as any class does. A field
declared ``field(compare=False)`` is left out of equality and the hash, as a dataclass leaves it.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any

__all__ = ["Frozen", "Mutable", "RECORD", "NEW_DICT", "set_field"]

#: The ``@dataclass`` options of such a class: fields and ``__match_args__`` only, slots kept.
RECORD: dict[str, bool] = dict(init=False, repr=False, eq=False, slots=True)
#: How an ``__init__`` sets a field of a frozen instance.
set_field = object.__setattr__


class _NewDict:
    """The ``__init__`` default of a field whose default is a new empty dict."""

    def __repr__(self) -> str:
        return "<a new dict>"


NEW_DICT: Any = _NewDict()


class _ByValue:
    """Equality and ``repr`` by field values, as a dataclass's."""

    __slots__ = ()
    __dataclass_fields__: dict[str, Any]

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name, f in self.__dataclass_fields__.items() if f.compare])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__dataclass_fields__)
        return f"{self.__class__.__qualname__}({inner})"


class Frozen(_ByValue):
    """No assignment after ``__init__``; equality, hash, ``repr`` and pickling by field values, as a frozen dataclass."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash(self._values())

    def __reduce__(self) -> Any:
        return self.__class__, tuple([getattr(self, name) for name in self.__dataclass_fields__])


class Mutable(_ByValue):
    """Equality and ``repr`` by field values and no hash, as a dataclass whose fields may change."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]
