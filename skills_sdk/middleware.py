"""The middleware chain: one signature, ``mw(ctx, call_next) -> Response``, composed in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .context import Turn
from .response import Response

__all__ = ["Middleware", "Endpoint", "compose"]

#: What a middleware's ``call_next`` (and the innermost router) is.
Endpoint = Callable[[Turn], Response]
#: A middleware: gets the turn and the rest of the chain, returns the response.
Middleware = Callable[[Turn, Endpoint], Response]


def compose(middlewares: Sequence[Middleware], endpoint: Endpoint) -> Endpoint:
    """Wrap ``endpoint`` in ``middlewares``; the first listed runs first (outermost).

    >>> def shout(ctx, call_next):
    ...     r = call_next(ctx)
    ...     return r.say(r.speech.upper())
    >>> from skills_sdk.response import say
    >>> compose([shout], lambda ctx: say("hi"))(None).speech
    'HI'

    The chain is built once, when a skill starts serving, so a request pays one call per
    middleware and nothing more.
    """
    chain = endpoint
    for mw in reversed(middlewares):
        if not callable(mw):
            raise TypeError(f"Middleware must be callable as mw(ctx, call_next), got {mw!r}.")
        chain = _link(mw, chain)
    return chain


def _link(mw: Middleware, call_next: Endpoint) -> Endpoint:
    def step(ctx: Turn) -> Response:
        return mw(ctx, call_next)

    step.__name__ = getattr(mw, "__name__", "middleware")
    return step
