"""A cache of compiled policies between runs, keyed by content hash: JSON, never pickle.

Loading the bundled packs (building the Lark parser, parsing, type-checking, lowering)
costs a few hundred milliseconds; `qinqing check` on one record should not. The cache
holds the checked IR and the parameter profiles as JSON: every object is written as
(class name, fields) and read back by calling the constructor of a class from a fixed
list of data classes (`policy_dsl.ir`, `policy_dsl.types`, `policy_dsl.params`,
`policy_dsl.errors`). Nothing else can be instantiated, nothing is executed, so a cache
file, even a hostile one, can at worst describe a different policy, which the key rules out
for honest files: the key is a SHA-256 over the policy and parameter files, the record
schema, and the source of `policy_dsl` itself (any code change starts a fresh cache).

Location: `$QINQING_CACHE_DIR`, else the user cache folder (platformdirs). Set
`QINQING_NO_CACHE=1` to bypass it. Any problem reading or writing the cache is silent:
the policy is then loaded from source as usual.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from checker.engine import tagged

FORMAT = 1
KEEP = 16  # cache files kept (the newest)


class Unsupported(Exception):
    """Something in the program is not plain data; it is not cached."""


def _classes() -> dict[str, type]:
    from policy_dsl import errors, ir, params, types

    out: dict[str, type] = {}
    for mod in (ir, types, params, errors):
        for name, obj in vars(mod).items():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == mod.__name__:
                out[f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"] = obj
    return out


# ---- encoding: a table of objects in construction order, references by index -------------------
class _Encoder:
    def __init__(self) -> None:
        self.table: list[Any] = []
        self.memo: dict[int, int] = {}
        self.keep: list[Any] = []  # keeps encoded objects alive, so ids stay unique
        self.names = {cls: key for key, cls in _classes().items()}
        self.active: set[int] = set()

    def ref(self, obj: Any) -> dict:
        from policy_dsl.params import ParamSet

        key = id(obj)
        hit = self.memo.get(key)
        if hit is not None:
            return {"$r": hit}
        if key in self.active:
            raise Unsupported("cycle")
        self.active.add(key)
        if isinstance(obj, ParamSet):
            node = {"$p": self.value(obj.profiles)}
        else:
            name = self.names.get(type(obj))
            if name is None:
                raise Unsupported(type(obj).__name__)
            fields = {f.name: self.value(getattr(obj, f.name))
                      for f in dataclasses.fields(obj) if f.init}
            node = {"$c": name, "f": fields}
        self.active.discard(key)
        self.memo[key] = len(self.table)
        self.table.append(node)
        self.keep.append(obj)
        return {"$r": self.memo[key]}

    def value(self, v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, str)):
            return v
        if isinstance(v, float):
            return {"$f": repr(v)}
        if isinstance(v, (Decimal, dt.date)):
            return tagged.tag(v)
        if isinstance(v, tuple):
            return {"$t": [self.value(x) for x in v]}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, (set, frozenset)):
            return {"$s": sorted((self.value(x) for x in v), key=repr), "frozen": isinstance(v, frozenset)}
        if isinstance(v, dict):
            if type(v) is not dict and not all(isinstance(k, str) for k in v):
                raise Unsupported(type(v).__name__)
            return {"$m": [[self.value(k), self.value(x)] for k, x in v.items()]}
        return self.ref(v)


def _bundled_marks(program: Any) -> Any:
    """The program with each bundled record schema replaced by its name (read again from the
    package on decoding, not copied into every cache file)."""
    from checker.schema import KINDS, kind_schema

    marked = {k: ({"$bundled": k} if k in KINDS and s is kind_schema(k) else s)
              for k, s in program.schemas.items()}
    return dataclasses.replace(program, schemas=marked)


def _unmark(program: Any) -> Any:
    from checker.schema import KINDS, kind_schema

    schemas = {}
    for k, s in program.schemas.items():
        if isinstance(s, dict) and set(s) == {"$bundled"}:
            if s["$bundled"] not in KINDS:
                raise Unsupported("schema")
            s = kind_schema(s["$bundled"])
        schemas[k] = s
    return dataclasses.replace(program, schemas=schemas)


def encode(program: Any, params: Any) -> bytes:
    program = _bundled_marks(program)
    enc = _Encoder()
    root = {"program": enc.value(program), "params": enc.value(params)}
    return orjson.dumps({"format": FORMAT, "table": enc.table, "root": root})


def decode(data: bytes) -> tuple[Any, Any]:
    from policy_dsl.params import ParamSet

    doc = orjson.loads(data)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Unsupported("format")
    classes = _classes()
    built: list[Any] = []

    def value(v: Any) -> Any:
        if v is None or isinstance(v, (bool, int, str)):
            return v
        if isinstance(v, list):
            return [value(x) for x in v]
        if not isinstance(v, dict) or len(v) > 2:
            raise Unsupported("node")
        if "$r" in v:
            i = v["$r"]
            if not isinstance(i, int) or not 0 <= i < len(built):
                raise Unsupported("reference")
            return built[i]
        if "$t" in v:
            return tuple(value(x) for x in v["$t"])
        if "$m" in v:
            return {value(k): value(x) for k, x in v["$m"]}
        if len(v) == 1 and next(iter(v)) in ("$D", "$d", "$dt"):
            return tagged.untag(v)
        if "$f" in v:
            return float(v["$f"])
        if "$s" in v:
            items = [value(x) for x in v["$s"]]
            return frozenset(items) if v.get("frozen") else set(items)
        raise Unsupported("node")

    for node in doc["table"]:
        if "$p" in node:
            built.append(ParamSet(value(node["$p"])))
            continue
        cls = classes.get(node.get("$c"))
        if cls is None or not isinstance(node.get("f"), dict):
            raise Unsupported("class")
        built.append(cls(**{k: value(x) for k, x in node["f"].items()}))
    root = doc["root"]
    return _unmark(value(root["program"])), value(root["params"])


# ---- the cache folder ---------------------------------------------------------------------------
def cache_dir() -> Path | None:
    if os.environ.get("QINQING_NO_CACHE"):
        return None
    if os.environ.get("QINQING_CACHE_DIR"):
        return Path(os.environ["QINQING_CACHE_DIR"])
    try:
        import platformdirs
        return Path(platformdirs.user_cache_dir("qinqing")) / "policies"
    except Exception:  # noqa: BLE001 - no cache folder is not an error
        return None


def _inputs(paths: list[str | Path]) -> list[Path] | None:
    """Every file a load of `paths` may read (a superset: all policy, YAML, CSV and record schema
    files under the folders, and the nearest `params/` folder of a file); None if a path does
    not exist."""
    found: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.update(q for q in p.rglob("*") if q.is_file() and (
                q.suffix in (".policy", ".yaml", ".csv") or q.name.endswith(".schema.json")))
        elif p.is_file():
            found.add(p)
            for parent in p.resolve().parents:
                if (parent / "params").is_dir():
                    found.update((parent / "params").glob("*.yaml"))
                    found.update((parent / "params").glob("*.csv"))
                    break
        else:
            return None
    return sorted(found, key=lambda q: str(q.resolve()))


def cache_key(paths: list[str | Path], extra: dict | None = None) -> str | None:
    """SHA-256 over what a compiled policy depends on (`extra`: record schemas given besides the
    bundled ones); None if the inputs are not all there."""
    import importlib.util

    files = _inputs(paths)
    spec = importlib.util.find_spec("policy_dsl")
    if not files or spec is None or not spec.submodule_search_locations:
        return None
    h = hashlib.sha256(f"qinqing-policy-cache {FORMAT}\0".encode())
    try:
        for p in files:
            h.update(str(p).encode() + b"\0" + p.read_bytes() + b"\0")
        code = Path(next(iter(spec.submodule_search_locations)))
        for p in sorted([*code.rglob("*.py"), *code.rglob("*.lark")]):
            h.update(str(p.relative_to(code)).encode() + b"\0" + p.read_bytes() + b"\0")
        from importlib import resources
        for schema in sorted((resources.files("checker") / "schema").iterdir(), key=lambda p: p.name):
            if schema.name.endswith(".json"):
                h.update(schema.name.encode() + b"\0" + schema.read_bytes())
        if extra:
            h.update(b"extra\0" + orjson.dumps(extra, option=orjson.OPT_SORT_KEYS))
    except OSError:
        return None
    return h.hexdigest()


def read(key: str) -> tuple[Any, Any] | None:
    folder = cache_dir()
    if folder is None:
        return None
    try:
        data = (folder / f"policy-{key}.json").read_bytes()
        return decode(data)
    except (OSError, ValueError, TypeError, KeyError, Unsupported, orjson.JSONDecodeError):
        return None


def write(key: str, program: Any, params: Any) -> None:
    folder = cache_dir()
    if folder is None:
        return
    try:
        data = encode(program, params)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".policy-", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, folder / f"policy-{key}.json")
        old = sorted(folder.glob("policy-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for p in old[KEEP:]:
            p.unlink(missing_ok=True)
    except (OSError, Unsupported, TypeError):
        return
