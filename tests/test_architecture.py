"""The structure rules of docs/architecture.md, checked on the source (no daemon, no database)."""

from __future__ import annotations

import ast
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "app"
COMMANDS = APP / "api" / "commands"
# Writes a command module must leave to a service: session methods and Core statements.
SESSION_WRITES = {"add", "add_all", "delete", "commit", "flush", "merge", "connection", "execute", "bulk_save_objects"}
CORE_WRITES = {"insert_row", "update", "insert", "delete"}
# Layers below the API: none of them may import virga.api (the API imports them, never the reverse).
BELOW_API = ["services", "jobs", "models", "migrations", "db.py", "context.py", "errors.py", "config.py"]
# AsyncJob rows move queued -> running -> succeeded|failed through conditional UPDATEs in the engine: the
# claim is the state change (two servers must never claim one job), so it cannot be an in-memory transition.
STATE_SQL_ALLOWED = {"app/jobs/engine.py"}


def _modules(*roots: Path) -> Iterator[tuple[Path, ast.Module]]:
    """Every Python file below the roots, parsed."""
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for f in files:
            if "migrations/versions" not in str(f):
                yield f, ast.parse(f.read_text(), str(f))


def _rel(path: Path) -> str:
    """A path relative to the repository."""
    return str(path.relative_to(REPO))


def _imports(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every imported module name (module-level and function-local)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module


def test_layers_below_the_api_never_import_it() -> None:
    """Services, jobs, models and the context import nothing from virga.api."""
    bad = [
        f"{_rel(f)}:{line} imports {name}"
        for f, tree in _modules(*(APP / p for p in BELOW_API))
        for line, name in _imports(tree)
        if name == "virga.api" or name.startswith("virga.api.")
    ]
    assert not bad, "the API layer imported from below it:\n" + "\n".join(bad)


def _state_writes(tree: ast.Module) -> Iterator[int]:
    """Lines that assign a `.state` attribute directly (plain, tuple or augmented assignment, or setattr)."""
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "state"
        ):
            yield node.lineno
        flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple | ast.List) else [t])]
        if any(isinstance(t, ast.Attribute) and t.attr == "state" for t in flat):
            yield node.lineno


def _sql_state_writes(tree: ast.Module) -> Iterator[int]:
    """Lines of `.values(state=...)`: a Core UPDATE that changes a state behind the state machine."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values":
            if any(k.arg == "state" for k in node.keywords):
                yield node.lineno


def test_states_change_only_through_the_state_machine() -> None:
    """No code but services/states.py assigns a resource's state."""
    bad = []
    for f, tree in _modules(APP):
        rel = _rel(f)
        if rel == "app/services/states.py":
            continue
        bad += [f"{rel}:{line} assigns .state" for line in _state_writes(tree)]
        if rel not in STATE_SQL_ALLOWED:
            bad += [f"{rel}:{line} sets state in SQL" for line in _sql_state_writes(tree)]
    assert not bad, "state changes outside virga.services.states.transition:\n" + "\n".join(bad)


def _is_session(node: ast.expr) -> bool:
    """Whether an expression names a database session (ctx.db, s, session, db)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "db"
    return isinstance(node, ast.Name) and node.id in {"s", "session", "db"}


def _writes(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Database writes and attribute assignments in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Attribute) and fn.attr in SESSION_WRITES and _is_session(fn.value):
                yield node.lineno, f"session.{fn.attr}()"
            elif isinstance(fn, ast.Name) and fn.id in CORE_WRITES | {"transition"}:
                yield node.lineno, f"{fn.id}()"
            elif isinstance(fn, ast.Attribute) and fn.attr in {"update", "insert"} and _is_table(fn.value):
                yield node.lineno, f"a Core {fn.attr}"
        elif isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple | ast.List) else [t])]
            for t in flat:
                if isinstance(t, ast.Attribute) and not (isinstance(t.value, ast.Name) and t.value.id == "self"):
                    yield node.lineno, f"assigns .{t.attr}"


def _is_table(node: ast.expr) -> bool:
    """Whether an expression looks like a table (`X.__table__` or an UPPERCASE name bound to one)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "__table__"
    return isinstance(node, ast.Name) and node.id.isupper()


def test_command_modules_leave_every_write_to_a_service() -> None:
    """A command module holds parameters, validation and the call into a service: it writes nothing."""
    bad = [f"{_rel(f)}:{line} {what}" for f, tree in _modules(COMMANDS) for line, what in _writes(tree)]
    assert not bad, "writes in command modules (move them into virga.services):\n" + "\n".join(bad)


def test_response_objects_are_built_under_api_views() -> None:
    """No command module defines a view function (a resource's response object is built in one place)."""
    bad = [
        f"{_rel(f)}:{node.lineno} {node.name}"
        for f, tree in _modules(COMMANDS)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and (node.name.endswith("_view") or node.name.endswith("_views"))
    ]
    assert not bad, "views defined outside virga.api.views:\n" + "\n".join(bad)


def test_every_command_module_is_registered() -> None:
    """virga.api.commands.MODULES lists every module of the package (a forgotten one would vanish silently)."""
    from virga.api import commands

    present = {f"virga.api.commands.{m.name}" for m in pkgutil.iter_modules([str(COMMANDS)])}
    assert present == set(commands.MODULES)
    declaring = [
        _rel(f)
        for f, tree in _modules(APP)
        if any(
            isinstance(d, ast.Call) and isinstance(d.func, ast.Name) and d.func.id == "api"
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            for d in n.decorator_list
        )
    ]
    outside = [f for f in declaring if not f.startswith("app/api/commands/")]
    assert not outside, f"commands declared outside virga.api.commands (never registered): {outside}"


def test_job_bodies_live_in_services() -> None:
    """The job table loads only service modules, and every one of them that declares a job is listed."""
    from virga.services import JOB_MODULES

    assert all(m.startswith("virga.services.") for m in JOB_MODULES), [m for m in JOB_MODULES if "api" in m]
    declaring = {
        f"virga.services.{f.stem}"
        for f, tree in _modules(APP / "services")
        if any(isinstance(n, ast.Name) and n.id in {"job_body", "job_recover"} for n in ast.walk(tree))
        and "def job_body" not in f.read_text()
    }
    assert declaring <= set(JOB_MODULES), sorted(declaring - set(JOB_MODULES))


def test_every_async_command_has_a_job_and_a_restart_policy() -> None:
    """Each async command has a body and a declared restart policy; RECONCILE ones have a recover step."""
    from virga.api.registry import commands
    from virga.jobs.engine import JOBS_TABLE, Restart

    specs = JOBS_TABLE.all()
    asyncs = sorted(c.name for c in commands().values() if c.is_async)
    assert len(asyncs) > 50
    missing = [c for c in asyncs if c not in specs]
    undeclared = [c for c in asyncs if c in specs and specs[c].restart is None]
    no_recover = [c for c in asyncs if c in specs and specs[c].restart == Restart.RECONCILE and not specs[c].recover]
    assert not missing, f"async commands without a job body: {missing}"
    assert not undeclared, f"job bodies without a restart policy (job_body(..., restart=...)): {undeclared}"
    assert not no_recover, f"RECONCILE without a job_recover step: {no_recover}"


@pytest.mark.parametrize(
    "snippet",
    [
        "class X:\n    pass\nx = X()\nx.state = 'Running'\n",
        "a.b, vm.state = 1, 'Stopped'\n",
        "setattr(vm, 'state', 'Up')\n",
    ],
)
def test_the_state_check_catches_direct_writes(snippet: str) -> None:
    """The state-write detector finds each spelling of a direct assignment."""
    assert list(_state_writes(ast.parse(snippet)))


def test_the_write_check_catches_writes() -> None:
    """The command-write detector finds session writes, Core statements and attribute assignments."""
    code = (
        "ctx.db.add(x)\ns.commit()\ninsert_row(s, M, {})\nVMS.update()\nvm.name = 'a'\nself.x = 1\nseen.add(1)\n"
        "transition(vm, 'start')\n"
    )
    found = [what for _, what in sorted(_writes(ast.parse(code)))]
    assert found == [
        "session.add()",
        "session.commit()",
        "insert_row()",
        "a Core update",
        "assigns .name",
        "transition()",
    ]


HYPERVISOR_NAMES = {"kvm", "simulator", "xenserver", "vmware", "lxc", "hyperv", "ovm3"}
# The simulator's own API (configureSimulator & co.) is CloudStack's simulator's: it may say its name.
NAMES_ALLOWED = {"app/api/commands/simulator.py", "app/api/views/simulator.py"}


def _hypervisor_names(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """String constants naming a hypervisor in comparisons, membership tests and dict keys."""
    for node in ast.walk(tree):
        consts: list[ast.expr] = []
        if isinstance(node, ast.Compare):
            consts = [node.left, *node.comparators]
            consts += [e for c in node.comparators if isinstance(c, ast.Tuple | ast.List | ast.Set) for e in c.elts]
        elif isinstance(node, ast.Dict):
            consts = [k for k in node.keys if k is not None]
        for c in consts:
            if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value.lower() in HYPERVISOR_NAMES:
                yield c.lineno, c.value


def test_core_code_names_no_hypervisor() -> None:
    """Services and the API ask drivers (capabilities, declared attributes, per-zone backends), never a name."""
    bad = [
        f"{_rel(f)}:{line} {name!r}"
        for f, tree in _modules(APP / "services", APP / "api", APP / "jobs", APP / "core.py", APP / "context.py")
        if _rel(f) not in NAMES_ALLOWED
        for line, name in _hypervisor_names(tree)
    ]
    assert not bad, "hypervisor names in core code:\n" + "\n".join(bad)


def test_the_name_check_catches_names() -> None:
    """The hypervisor-name detector finds ==, in and dict-key spellings."""
    code = "a == 'KVM'\nb in ('Simulator', 'x')\nd = {'VMware': 1}\ne = 'kvm' + x\n"
    assert [n for _, n in sorted(_hypervisor_names(ast.parse(code)))] == ["KVM", "Simulator", "VMware"]
