"""Services: every write and every job body. The job table (virga.jobs.engine.JobTable) imports the
modules listed here and collects the job bodies and recover steps their functions declare; importing a
module registers nothing."""

# TRANSITIONAL: the virga.api.commands.* entries still hold job bodies that belong in services.
JOB_MODULES = (
    "virga.services.accounts",
    "virga.services.addresses",
    "virga.services.hostops",
    "virga.services.lb",
    "virga.services.networks",
    "virga.services.physnet",
    "virga.services.providers",
    "virga.services.routers",
    "virga.services.rules",
    "virga.services.secgroups",
    "virga.services.simplejobs",
    "virga.services.snapshots",
    "virga.services.sshkeys",
    "virga.services.storagepools",
    "virga.services.tags",
    "virga.services.templatecapture",
    "virga.services.templates",
    "virga.services.uploads",
    "virga.services.vmconfig",
    "virga.services.vmdeploy",
    "virga.services.vmlifecycle",
    "virga.services.vmmigrate",
    "virga.services.vmpower",
    "virga.services.vmsnapshots",
    "virga.services.volumes",
    "virga.services.volupload",
)
