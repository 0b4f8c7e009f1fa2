"""Edits of a raw JSON record (a witness): values at a field path, every path, deleting one."""

from __future__ import annotations

from typing import Any


def values_at(raw: dict, fpath: str) -> list:
    if "[]" not in fpath:
        x: Any = raw
        for k in fpath.split("."):
            x = x.get(k) if isinstance(x, dict) else None
        return [x]
    lpath, rest = fpath.split("[].", 1)
    x = raw
    for k in lpath.split("."):
        x = x.get(k) if isinstance(x, dict) else None
    return [e.get(rest) for e in x if isinstance(e, dict)] if isinstance(x, list) else []


def paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(prefix + (k,))
            out.extend(paths(v, prefix + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.append(prefix + (i,))
            out.extend(paths(v, prefix + (i,)))
    return out


def delete(obj: Any, path: tuple) -> bool:
    for k in path[:-1]:
        try:
            obj = obj[k]
        except (KeyError, IndexError, TypeError):
            return False
    last = path[-1]
    try:
        if isinstance(obj, list):
            if last != len(obj) - 1:  # only trailing elements, so indexes stay meaningful
                return False
            obj.pop()
        else:
            del obj[last]
    except (KeyError, IndexError, TypeError):
        return False
    return True
