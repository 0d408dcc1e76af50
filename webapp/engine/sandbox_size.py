"""How large a value is when written out (as text, or as JSON in the stored instance), measured
without writing it out: the sandbox's limits on output and on task data use it."""

from __future__ import annotations

from typing import Any

_CONTAINERS = (list, tuple, set, frozenset, dict)


def weight(value: Any, limit: int) -> int:
    """Characters and items the value spans when written out, counted up to just past `limit`.

    Each container is measured once and its size reused wherever it appears again, so shared
    references (`a = [a, a]`, 45 times: 2**45 items written out) cost their distinct parts
    only. The distinct parts alone past `limit`, or a container inside itself, end the count.
    """
    if not isinstance(value, _CONTAINERS):
        return len(value) if isinstance(value, str | bytes) else 1
    sizes: dict[int, int] = {}  # id → written-out size; _OPEN while its parts are measured
    pending: dict[int, tuple[int, list]] = {}
    distinct, stack = 0, [value]
    while stack:
        item = stack[-1]
        state = sizes.get(id(item))
        if state is None:  # first visit: count its own parts, then measure its containers
            own, inner = len(item), []
            for part in (*item.keys(), *item.values()) if isinstance(item, dict) else item:
                if isinstance(part, str | bytes):
                    own += len(part)
                elif isinstance(part, _CONTAINERS):
                    if part is item or sizes.get(id(part)) == _OPEN:
                        return limit + 1  # it contains itself
                    inner.append(part)
                else:
                    own += 1
            distinct += own
            if distinct > limit:
                return limit + 1
            sizes[id(item)], pending[id(item)] = _OPEN, (own, inner)
            stack.extend(part for part in inner if id(part) not in sizes)
        elif state == _OPEN:  # its containers are measured
            own, inner = pending.pop(id(item))
            sizes[id(item)] = min(own + sum(sizes[id(part)] for part in inner), limit + 1)
            stack.pop()
        else:  # measured already, through another reference
            stack.pop()
    return sizes[id(value)]


_OPEN = -1
