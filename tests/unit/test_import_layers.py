"""The import rules of docs/architecture.md, read from the source (every import statement,
at module level or inside a function).

Layers, from the bottom: the pure core, infrastructure, provider adapters, services,
entry points. A module imports only its own layer and the ones below it; importing
``a.b`` also runs the package ``a``'s ``__init__``, so that counts as an import of ``a``.
The channels' entry points (the widget and API, the console, events, texts, the voice
webhooks) never import each other's; what they share is a service. And no module imports
itself back through others within its layer (a cycle across layers needs an upward
import, caught by the first rule).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "infra", "services", "scheduler", "ivr_flows", "telephony", "sms", "events", "console", "web_widget")

CORE, INFRA, ADAPTERS, SERVICES, ENTRY = range(5)
LAYER_NAMES = ("core", "infrastructure", "adapters", "services", "entry points")

# Module (or package prefix) -> layer; the longest matching prefix wins.
LAYERS = {
    "scheduler": CORE,
    "ivr_flows": CORE,
    "telephony.base": CORE,  # the adapters' interface and the call-script vocabulary:
    "telephony.script": CORE,  # what the pure IVR flows speak
    "infra": INFRA,
    "infra.i18n": CORE,  # gettext catalogs read from files: pure, and what the core's prompts are said in
    "telephony": ADAPTERS,
    "sms": SERVICES,
    "events": SERVICES,
    "services": SERVICES,
    "app": ENTRY,  # the factory, CLI, worker and the web kit every channel shares
    "console": ENTRY,
    "web_widget": ENTRY,
    "events.api": ENTRY,
    "events.demo_receiver": ENTRY,
    "sms.webhooks": ENTRY,
}

CHANNELS = {
    "web_widget": "widget",
    "console": "console",
    "events": "events",
    "sms": "texts",
    "app.voice_webhooks": "voice",
    "app.simulator_page": "voice",
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _longest(table: dict[str, object], module: str) -> object | None:
    parts = module.split(".")
    while parts:
        if ".".join(parts) in table:
            return table[".".join(parts)]
        parts.pop()
    return None


def layer(module: str) -> int:
    found = _longest(LAYERS, module)  # type: ignore[arg-type]
    assert isinstance(found, int), f"{module}: no layer (add it to LAYERS)"
    return found


def channel(module: str) -> str | None:
    """The channel whose entry points ``module`` is one of (a channel's services, such as
    the text outbox in sms/, are services every channel may use)."""
    found = _longest(CHANNELS, module)  # type: ignore[arg-type]
    return found if isinstance(found, str) and layer(module) == ENTRY else None


def imported_names(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, with the packages whose ``__init__`` that runs."""
    graph: dict[str, set[str]] = defaultdict(set)
    non_empty = {m for m, p in known.items() if p.name == "__init__.py" and _has_code(p)}
    for module, path in known.items():
        for name in imported_names(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            target = next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in known), None)
            if target is None or (known[target].name == "__init__.py" and target not in non_empty):
                continue  # not ours, or a package that runs nothing (``from pkg import module``)
            chain = target.split(".")
            graph[module] |= {target} | {
                ".".join(chain[:n]) for n in range(1, len(chain)) if ".".join(chain[:n]) in non_empty
            }
        graph[module].discard(module)
    return graph


def _has_code(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    return any(not (isinstance(n, ast.ImportFrom) and n.module == "__future__") for n in body)


def upward(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {(a, b) for a, targets in graph.items() for b in targets if layer(b) > layer(a)}


def across_channels(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    return {
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if channel(a) and channel(b) and channel(a) != channel(b)
    }


def cycles_within_layers(graph: dict[str, set[str]]) -> set[frozenset[str]]:
    """The strongly connected groups of two or more modules, each in one layer (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if layer(w) != layer(v):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.add(frozenset(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return groups


def _show(edges: set[tuple[str, str]]) -> str:
    return "\n".join(f"  {a} ({LAYER_NAMES[layer(a)]}) -> {b} ({LAYER_NAMES[layer(b)]})" for a, b in sorted(edges))


def test_every_module_has_a_layer() -> None:
    for module in modules():
        layer(module)


def test_no_module_imports_a_higher_layer() -> None:
    found = upward(import_graph(modules()))
    assert not found, "imports from a lower layer to a higher one:\n" + _show(found)


def test_no_channel_imports_another() -> None:
    found = across_channels(import_graph(modules()))
    assert not found, "one channel imports another:\n" + _show(found)


def test_no_import_cycle() -> None:
    found = cycles_within_layers(import_graph(modules()))
    assert not found, f"import cycles: {sorted(sorted(c) for c in found)}"


def test_the_rules_catch_what_they_are_for(tmp_path: Path) -> None:
    """The checks themselves, on a made-up graph: an upward import, a channel crossing, a
    cycle within a layer, and the package whose __init__ an import runs."""
    graph = {
        "scheduler.booking": {"infra.models"},  # core -> infrastructure
        "console.views": {"web_widget.api", "services.reports"},  # console -> widget
        "services.reports": {"services.accounts"},
        "services.accounts": {"services.reports"},  # a cycle among services
    }
    assert upward(graph) == {("scheduler.booking", "infra.models")}
    assert across_channels(graph) == {("console.views", "web_widget.api")}
    assert cycles_within_layers(graph) == {frozenset({"services.reports", "services.accounts"})}
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text('"""The factory."""\nfrom infra import db\n')
    (tmp_path / "app" / "queues.py").write_text("")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "__init__.py").write_text('"""Nothing."""\nfrom __future__ import annotations\n')
    (tmp_path / "empty" / "rules.py").write_text("")
    (tmp_path / "infra.py").write_text("def f():\n    from app.queues import load\n    import empty.rules\n")
    known = {
        "app": tmp_path / "app" / "__init__.py",
        "app.queues": tmp_path / "app" / "queues.py",
        "empty": tmp_path / "empty" / "__init__.py",
        "empty.rules": tmp_path / "empty" / "rules.py",
        "infra": tmp_path / "infra.py",
    }
    # Inside a function, and the package app (its __init__ has code) with it; not empty.
    assert import_graph(known)["infra"] == {"app.queues", "app", "empty.rules"}
    # A provider's family of modules, which only the registry and the family itself import.
    assert provider_family("telephony.vonage_ncco") == provider_family("telephony.vonage_adapter") == "vonage"
    assert provider_family("telephony.simulator_driver") == "simulator"
    assert provider_family("telephony.registry") is None and provider_family("telephony.base") is None


def provider_family(module: str) -> str | None:
    """The provider whose module (or helper module: telephony.vonage_ncco) this is."""
    from telephony.registry import PROVIDERS

    for name, provider_module in PROVIDERS.items():
        stem = provider_module.removesuffix("_adapter")
        if module in (provider_module, stem) or module.startswith(stem + "_"):
            return name
    return None


# The simulator's demo page and its simulated agents drive the simulator's phone
# (telephony.simulator_driver).
MAY_USE_A_PROVIDER = {"app.simulator_page": "simulator", "app.simulated_agents": "simulator"}


def test_only_the_registry_knows_a_provider_module() -> None:
    """Provider details stay in the provider's modules: everything else goes through
    telephony/registry.py and the Telephony interface (docs/providers.md)."""
    graph = import_graph(modules())
    found = {
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if (family := provider_family(b)) and provider_family(a) != family and MAY_USE_A_PROVIDER.get(a) != family
    }
    assert not found, "a provider's module imported from outside it:\n" + _show(found)
