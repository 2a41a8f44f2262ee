"""Catalog entries for administration: accounts, users, domains, offerings, jobs, events, alerts."""

from __future__ import annotations

from virga.tui import validate
from virga.tui.catalog.base import (
    Action,
    Choice,
    Field,
    Resource,
    age_col,
    col,
    delete,
    id_only,
    nothing,
    register,
    state_col,
)
from virga.tui.widgets.resource_table import Column

DOMAINS = Choice("listDomains", "domain", label="path", params={"listall": True})
ACCOUNT_TYPES = ("0", "1", "2")
JOB_STATUS = {0: ("pending", "yellow"), 1: ("succeeded", "green"), 2: ("failed", "bold red")}
LIMIT_TYPES = ("0", "1", "2", "3", "4", "6", "7", "8", "9", "10", "11")

register(
    Resource("acct", "Accounts", "listAccounts", "account", lambda c: [
        col("name", "NAME", 16), state_col(), col("roletype", "ROLE", 11), col("domain", "DOMAIN", 14),
        col("vmtotal", "VMS", 4), col("iptotal", "IPS", 4), col("volumetotal", "VOLS", 4)],
        ("account", "accounts"), (
            Action("n", "Create", "createAccount", nothing, (
                Field("username", "Username", required=True, validate=validate.required),
                Field("password", "Password", required=True, password=True, validate=validate.required),
                Field("email", "Email", required=True, default="user@example.org"),
                Field("firstname", "First name", required=True, default="First"),
                Field("lastname", "Last name", required=True, default="Last"),
                Field("accounttype", "Type (0 user, 1 admin, 2 domain admin)", default="0", options=ACCOUNT_TYPES),
                Field("domainid", "Domain", choice=DOMAINS)), needs_item=False),
            Action("D", "Disable", "disableAccount", lambda i: {"id": i["id"], "lock": False}, confirm=True),
            Action("e", "Enable", "enableAccount", id_only),
            Action("l", "Set limit", "updateResourceLimit",
                   lambda i: {"account": i["name"], "domainid": i.get("domainid")}, (
                       Field("resourcetype", "Type (0 VMs, 1 IPs, 2 volumes, 3 snapshots, 4 templates...)",
                             default="0", options=LIMIT_TYPES),
                       Field("max", "Maximum (-1 unlimited)", default="-1"))),
            delete("deleteAccount"))),
    Resource("user", "Users", "listUsers", "user", lambda c: [
        col("username", "USERNAME", 16), state_col(), col("account", "ACCOUNT", 14), col("domain", "DOMAIN", 14),
        col("email", "EMAIL", 22)], ("users",), (
            Action("n", "Create", "createUser", nothing, (
                Field("username", "Username", required=True, validate=validate.required),
                Field("password", "Password", required=True, password=True, validate=validate.required),
                Field("account", "Account", required=True, validate=validate.required),
                Field("email", "Email", required=True, default="user@example.org"),
                Field("firstname", "First name", required=True, default="First"),
                Field("lastname", "Last name", required=True, default="Last"),
                Field("domainid", "Domain", choice=DOMAINS)), needs_item=False),
            Action("k", "New API keys", "registerUserKeys", id_only, confirm=True),
            Action("D", "Disable", "disableUser", id_only, confirm=True),
            Action("e", "Enable", "enableUser", id_only),
            delete("deleteUser"))),
    Resource("dom", "Domains", "listDomains", "domain", lambda c: [
        col("name", "NAME", 16), col("path", "PATH", 30), col("level", "LEVEL", 5), state_col()],
        ("domain", "domains"), (
            Action("n", "Create", "createDomain", nothing, (
                Field("name", "Name", required=True, validate=validate.required),
                Field("parentdomainid", "Parent", choice=DOMAINS)), needs_item=False),
            delete("deleteDomain"))),
    Resource("so", "Service offerings", "listServiceOfferings", "serviceoffering", lambda c: [
        col("name", "NAME", 20), col("cpunumber", "CPUS", 4), col("cpuspeed", "MHZ", 5), col("memory", "MEM MB", 6),
        col("storagetype", "STORAGE", 7), col("displaytext", "DESCRIPTION", 28)], ("offering", "offerings"), (
            Action("n", "Create", "createServiceOffering", nothing, (
                Field("name", "Name", required=True, validate=validate.required),
                Field("displaytext", "Display text", required=True, validate=validate.required),
                Field("cpunumber", "CPUs", default="1", validate=validate.integer),
                Field("cpuspeed", "CPU MHz", default="1000", validate=validate.integer),
                Field("memory", "Memory MB", default="512", validate=validate.integer)), needs_item=False),
            delete("deleteServiceOffering")), {}),
    Resource("do", "Disk offerings", "listDiskOfferings", "diskoffering", lambda c: [
        col("name", "NAME", 20), col("disksize", "GB", 5), col("iscustomized", "CUSTOM", 6),
        col("displaytext", "DESCRIPTION", 30)], ("diskoffering",), (
            Action("n", "Create", "createDiskOffering", nothing, (
                Field("name", "Name", required=True, validate=validate.required),
                Field("displaytext", "Display text", required=True, validate=validate.required),
                Field("disksize", "Size GB", default="10", validate=validate.integer)), needs_item=False),
            delete("deleteDiskOffering")), {}),
    Resource("no", "Network offerings", "listNetworkOfferings", "networkoffering", lambda c: [
        col("name", "NAME", 44), col("guestiptype", "TYPE", 8), state_col()], ("netoffering",), (), {}),
    Resource("job", "Async jobs", "listAsyncJobs", "asyncjobs", lambda c: [
        col("cmd", "COMMAND", 28), Column("STATUS", 10, lambda i: JOB_STATUS.get(i.get("jobstatus"), ("?", ""))),
        col("jobprocstatus", "PROG", 4), col("jobinstancetype", "TYPE", 14), col("jobresultcode", "CODE", 4),
        age_col(c)], ("jobs", "asyncjob"), (), {"listall": True}, key="jobid"),
    Resource("ev", "Events", "listEvents", "event", lambda c: [
        Column("LEVEL", 5, lambda i: (str(i.get("level", "")), "red" if i.get("level") == "ERROR" else "")),
        col("type", "TYPE", 18), col("state", "STATE", 9), col("description", "DESCRIPTION", 44),
        col("account", "ACCOUNT", 10), age_col(c)], ("event", "events"), (), {"listall": True, "pagesize": 200,
                                                                            "page": 1}),
    Resource("alert", "Alerts", "listAlerts", "alert", lambda c: [
        col("name", "NAME", 24), col("type", "TYPE", 4), col("description", "DESCRIPTION", 50), age_col(c, "sent")],
        ("alerts",), (Action("x", "Archive", "archiveAlerts", lambda i: {"ids": i["id"]}, confirm=True),), {}),
    Resource("cfg", "Global settings", "listConfigurations", "configuration", lambda c: [
        col("name", "NAME", 40), col("value", "VALUE", 20), col("category", "CATEGORY", 12),
        col("description", "DESCRIPTION", 40)], ("config", "configuration", "settings-global"), (
            Action("e", "Edit", "updateConfiguration", lambda i: {"name": i["name"]},
                   (Field("value", "New value"),)),), {}, key="name"),
    Resource("cap", "Capacity", "listCapacity", "capacity", lambda c: [
        col("zonename", "ZONE", 14), col("type", "TYPE", 4), col("capacityused", "USED", 14),
        col("capacitytotal", "TOTAL", 14), col("percentused", "%", 6)], ("capacity",), (), {},
        key="type"),
)

