from django.db import models


class OrderKeyField(models.CharField):
    """A fractional index key. Its order must be byte order, so PostgreSQL gets the
    "C" collation whatever the database's locale; SQLite compares bytes already."""

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        if connection.vendor == "postgresql":
            params["collation"] = "C"
        return params
