"""The terminal client of a running dashboard: `visionyard login`, `runs`, `queue`, `datasets`.

It talks to the dashboard's REST API (/api/v1) over HTTP with an API token and never touches the
database or imports torch. One module per concern: `credentials` (where the URL and token come
from and where `login` keeps them), `api` (the HTTP calls and what their failures mean),
`errors` (failures as messages and exit codes), `output` (tables and --json), `projects`
(a project named by id or name), `runfolder` (what `runs import` sends), and one module per
command group under `commands`.
"""
