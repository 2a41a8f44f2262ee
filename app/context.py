"""The call context: who is calling, their session, lookups that respect isolation, and lists.

Shared by the API layer (which builds one per request) and the services and job bodies (which
receive one); it imports nothing from virga.api.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import bindparam, func, or_, true
from sqlmodel import Session, SQLModel, col, select
from virga.db import by_column
from virga.errors import InvalidParameter, PermissionDenied
from virga.models import Account, Configuration, Domain, Owned, ResourceTag, User

if TYPE_CHECKING:
    from virga.core import VirgaApp

ADMIN, DOMAIN_ADMIN, USER = "Admin", "DomainAdmin", "User"
ALL_ROLES = frozenset({ADMIN, DOMAIN_ADMIN, USER})
ADMINS = frozenset({ADMIN, DOMAIN_ADMIN})
ROOT = frozenset({ADMIN})


class Args(dict[str, Any]):
    """Parsed parameters, by lowercased name, with attribute access (missing -> None)."""

    def __getattr__(self, name: str) -> Any:
        """Return the parameter or None."""
        return self.get(name)


T = TypeVar("T", bound=SQLModel)
_JOINED: dict[tuple[type, ...], Any] = {}
_REFS: dict[Any, Any] = {}  # prebuilt (id, uuid, name) selects per model
ROLE_BY_TYPE = {0: USER, 1: ADMIN, 2: DOMAIN_ADMIN}
DEFAULT_PAGE_SIZE = 500


@dataclass
class Ctx:
    """One API call: the app, a database session, the caller and the parsed arguments."""

    app: VirgaApp
    db: Session
    user: User
    account: Account
    domain: Domain
    args: Args = field(default_factory=Args)
    command: str = ""
    _cache: dict[tuple[type, int], Any] = field(default_factory=dict)
    _memo: dict[Any, Any] = field(default_factory=dict)
    _refs: dict[tuple[type, int], tuple[str, str]] = field(default_factory=dict)

    @property
    def role(self) -> str:
        """Admin, DomainAdmin or User."""
        return ROLE_BY_TYPE.get(self.account.accounttype, USER)

    @property
    def is_root(self) -> bool:
        """Whether the caller is a root admin."""
        return self.role == ADMIN

    # --- lookups ---------------------------------------------------------
    def by_id(self, model: type[T], pk: int | None) -> T | None:
        """Load a row by internal id, cached for the call."""
        if pk is None:
            return None
        key = (model, pk)
        if key not in self._cache:
            self._cache[key] = self.db.get(model, pk)
        return self._cache[key]

    def memo(self, key: Any, make: Callable[[], Any]) -> Any:
        """A value computed once per call (such as settings every row of a list needs)."""
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def preload(self, model: type[T], ids: set[int | None]) -> None:
        """Load many rows by internal id in one query into the call's cache."""
        missing = {i for i in ids if i is not None and (model, i) not in self._cache}
        for i in list(missing):  # rows this session already holds need no query
            row = self.db.identity_map.get(self.db.identity_key(model, i))
            if row is not None:
                self._cache[(model, i)] = row
                missing.discard(i)
        if missing:
            for row in self.db.exec(by_column(model, "id", many=True), params={"v": list(missing)}):
                self._cache[(model, row.id)] = row

    def preload_refs(self, model: Any, ids: set[int | None]) -> None:
        """Load only the uuid and name of many rows, for {x}id/{x}name fields (see ref_of)."""
        missing = [i for i in ids if i is not None and (model, i) not in self._cache and (model, i) not in self._refs]
        if missing:
            stmt = _REFS.get(model)
            if stmt is None:
                stmt = _REFS[model] = select(model.id, model.uuid, model.name).where(
                    model.id.in_(bindparam("v", expanding=True))
                )
            for pk, uuid, name in self.db.exec(stmt, params={"v": missing}):
                self._refs[(model, pk)] = (uuid, name)

    def ref_of(self, model: Any, pk: int | None) -> tuple[str, str] | None:
        """The (uuid, name) preload_refs loaded for a row, if it did."""
        return self._refs.get((model, pk)) if pk is not None else None

    def get(self, model: type[T], uuid: str | None, param: str = "id", *, removed_ok: bool = False) -> T:
        """Find a visible resource by UUID, or raise 431 naming the parameter."""
        label = model.__name__
        if not uuid:
            raise InvalidParameter(f"Missing parameter {param}")
        row = self.db.exec(by_column(model, "uuid"), params={"v": uuid}).first()
        if row is None or (row.removed is not None and not removed_ok) or not self.can_see(row):
            raise InvalidParameter(f"Unable to find {label} with id {uuid} (parameter {param})")
        return row

    def get_all(self, *wanted: tuple[type, str | None, str]) -> list[Any]:
        """Several visible resources by UUID in ONE query, e.g. ((Zone, a.zoneid, "zoneid"), ...).

        The same answers and 431s as get() one by one (a miss falls back to them, in order, so the error
        names the first parameter at fault), for one round trip instead of several.
        """
        if all(uuid for _, uuid, _ in wanted):
            models = tuple(model for model, _, _ in wanted)
            stmt = _JOINED.get(models)
            if stmt is None:
                stmt = select(*models)
                for other in models[1:]:  # single-row lookups side by side: an explicit ON TRUE, not a cross join
                    stmt = stmt.join_from(models[0], other, true())
                stmt = _JOINED[models] = stmt.where(*(m.uuid == bindparam(f"u{i}") for i, m in enumerate(models)))  # type: ignore[attr-defined]
            row = self.db.exec(stmt, params={f"u{i}": u for i, (_, u, _) in enumerate(wanted)}).first()
            if row is not None and all(r.removed is None and self.can_see(r) for r in row):
                return list(row)
        return [self.get(model, uuid, param) for model, uuid, param in wanted]

    def opt(self, model: type[T], param: str) -> T | None:
        """Find the resource named by an optional UUID parameter, or None when absent."""
        value = self.args.get(param)
        return self.get(model, value, param) if value else None

    # --- isolation -------------------------------------------------------
    def domain_path(self, domain_id: int | None) -> str:
        """The path of a domain (cached)."""
        dom = self.by_id(Domain, domain_id)
        return dom.path if dom else ""

    def can_see(self, row: Any) -> bool:
        """Whether the caller may see a row (owned rows by account/domain; others by domain)."""
        if self.is_root:
            return True
        if isinstance(row, Domain):
            return row.id == self.domain.id or (self.role == DOMAIN_ADMIN and row.path.startswith(self.domain.path))
        if getattr(row, "ispublic", False):
            return True
        account_id = getattr(row, "account_id", None)
        domain_id = getattr(row, "domain_id", None)
        if self.role == DOMAIN_ADMIN:
            if domain_id is None:
                return not isinstance(row, Owned)
            return self.domain_path(domain_id).startswith(self.domain.path)
        if isinstance(row, Owned) or account_id is not None:
            if account_id == self.account.id:
                return True
            return bool(
                getattr(row, "acltype", "") == "Domain" and self.domain.path.startswith(self.domain_path(domain_id))
            )
        if domain_id is not None:
            return self.domain.path.startswith(self.domain_path(domain_id))
        return True

    def require(self, row: Any, what: str = "resource") -> None:
        """Raise 531 unless the caller may change the row."""
        if not self.can_see(row):
            raise PermissionDenied(f"Account {self.account.name} does not have permission to operate on {what}")

    def subtree_ids(self, domain: Domain) -> list[int]:
        """Ids of a domain and all its descendants."""
        stmt = select(Domain.id).where(Domain.path.startswith(domain.path), Domain.removed == None)
        return [i for i in self.db.exec(stmt) if i is not None]

    def owner(self) -> tuple[Account, Domain]:
        """The account a new resource belongs to: the caller's, or account+domainid for admins."""
        name, domain_uuid = self.args.get("account"), self.args.get("domainid")
        if not name:
            return self.account, self.domain
        if not domain_uuid:
            raise InvalidParameter("Parameter domainid is required with account")
        dom = self.get(Domain, domain_uuid, "domainid")
        acct = self.db.exec(
            select(Account).where(Account.name == name, Account.domain_id == dom.id, Account.removed == None)
        ).first()
        if acct is None:
            raise InvalidParameter(f"Unable to find account {name} in domain {dom.name}")
        if acct.id != self.account.id and self.role == USER:
            raise PermissionDenied(f"Account {self.account.name} cannot act on behalf of {name}")
        self.require(acct, f"account {name}")
        return acct, dom

    # --- lists -----------------------------------------------------------
    def scope(self, stmt: Any, model: Any, *, shared_attr: str | None = None) -> Any:
        """Restrict a select of owned rows to what the caller asked for and may see."""
        args = self.args
        if args.get("account") or (args.get("domainid") and self.role != USER):
            if args.get("account"):
                acct, _ = self.owner()
                return stmt.where(model.account_id == acct.id)
            dom = self.get(Domain, args.get("domainid"), "domainid")
            if args.get("isrecursive"):
                return stmt.where(model.domain_id.in_(self.subtree_ids(dom)))
            return stmt.where(model.domain_id == dom.id)
        if self.role == USER or not args.get("listall"):
            mine = model.account_id == self.account.id
            if shared_attr is not None:
                doms = [d for d in self._ancestor_ids()]
                return stmt.where(or_(mine, (getattr(model, shared_attr) == "Domain") & model.domain_id.in_(doms)))
            return stmt.where(mine)
        if self.role == DOMAIN_ADMIN:
            return stmt.where(model.domain_id.in_(self.subtree_ids(self.domain)))
        return stmt

    def _ancestor_ids(self) -> list[int]:
        """Ids of the caller's domain and its ancestors."""
        paths = []
        parts = self.domain.path.strip("/").split("/")
        for i in range(len(parts)):
            paths.append("/" + "/".join(parts[: i + 1]) + "/")
        paths.append("/")
        stmt = select(Domain.id).where(col(Domain.path).in_(paths))
        return [i for i in self.db.exec(stmt) if i is not None]

    def default_page_size(self) -> int:
        """The default.page.size setting (DEFAULT_PAGE_SIZE when unset or not a positive number)."""
        row = self.db.get(Configuration, "default.page.size")
        try:
            size = int(float(row.value)) if row is not None else DEFAULT_PAGE_SIZE
        except ValueError:
            return DEFAULT_PAGE_SIZE
        return size if size > 0 else DEFAULT_PAGE_SIZE

    def page(
        self,
        stmt: Any,
        model: Any,
        *,
        keyword: tuple[str, ...] = ("name",),
        resourcetype: str | None = None,
        order: Any = None,
    ) -> tuple[list[Any], int]:
        """Apply id/name/keyword/tags filters, count the total, and return one page."""
        args = self.args
        stmt = stmt.where(model.removed == None)
        if args.get("id"):
            stmt = stmt.where(model.uuid == args["id"])
        if args.get("ids"):
            stmt = stmt.where(model.uuid.in_(args["ids"]))
        if args.get("name") and hasattr(model, "name"):
            stmt = stmt.where(model.name == args["name"])
        if args.get("keyword"):
            like = f"%{args['keyword']}%"
            cols = [getattr(model, k) for k in keyword if hasattr(model, k)] or [model.uuid]  # a nameless model
            stmt = stmt.where(or_(*[c.ilike(like) for c in cols]))
        if args.get("tags") and resourcetype:
            for tag in args["tags"]:
                sub = select(ResourceTag.resource_id).where(
                    ResourceTag.resourcetype == resourcetype,
                    ResourceTag.key == tag.get("key"),
                    ResourceTag.value == tag.get("value"),
                    ResourceTag.removed == None,
                )
                stmt = stmt.where(model.id.in_(sub))
        count = self.db.exec(select(func.count()).select_from(stmt.subquery())).one()
        size = args.get("pagesize") or self.default_page_size()
        stmt = stmt.order_by(order if order is not None else model.id)
        if size != -1:
            stmt = stmt.offset(((args.get("page") or 1) - 1) * size).limit(size)
        return list(self.db.exec(stmt)), int(count)
