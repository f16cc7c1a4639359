"""A ``replica`` database alias for the router tests: a second connection to the test
database, configured the way settings configure ``DATABASE_REPLICA_URL`` in tests (a
``MIRROR`` of default). Added before the test databases are set up; nothing routes to it
unless a test installs config.db_router.ReplicaRouter."""

from django.db import connections

from config.db_router import REPLICA

if REPLICA not in connections.settings:
    connections.settings[REPLICA] = {
        **connections.settings["default"],
        "TEST": {**connections.settings["default"].get("TEST", {}), "MIRROR": "default"},
    }
