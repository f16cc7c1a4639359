from django.conf import settings
from django.db import connections, models, router, transaction

# The columns :meth:`IdempotencyKeyManager.insert` writes (every column but the id).
_INSERT_FIELDS = (
    "user",
    "key",
    "method",
    "path",
    "request_hash",
    "state",
    "response_status",
    "response_body",
    "created_at",
    "expires_at",
)


class IdempotencyKeyManager(models.Manager):
    def insert(self, **values) -> int:
        """One ``INSERT ... RETURNING id`` of a key row with every column given (by field
        name, ``created_at`` included), in the caller's transaction; returns the id.

        Every keyed write request inserts one row, and ``objects.create()`` spends more CPU
        building that INSERT (model instance, save signals, the SQL compiler) than the
        rest of the key's work: the statement is built once per connection vendor here.
        A taken (user, key) raises ``IntegrityError`` as ``create()`` does, and marks an
        enclosing atomic block for rollback as ``create()`` does."""
        db = router.db_for_write(self.model)
        connection = connections[db]
        fields = [self.model._meta.get_field(name) for name in _INSERT_FIELDS]
        params = [
            field.get_db_prep_save(
                values[field.name].pk if field.is_relation else values[field.name], connection
            )
            for field in fields
        ]
        with transaction.mark_for_rollback_on_error(db), connection.cursor() as cursor:
            cursor.execute(_insert_sql(self.model, connection), params)
            return cursor.fetchone()[0]


def _insert_sql(model, connection) -> str:
    cached = _INSERT_SQL.get(connection.vendor)
    if cached is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(model._meta.get_field(name).column) for name in _INSERT_FIELDS)
        placeholders = ", ".join(["%s"] * len(_INSERT_FIELDS))
        table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
        # Names from the model's meta; the values are parameters.
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}"  # noqa: S608
        cached = _INSERT_SQL[connection.vendor] = sql
    return cached


_INSERT_SQL: dict[str, str] = {}


class IdempotencyKey(models.Model):
    """A client's ``Idempotency-Key`` for one unsafe request, scoped to the user.

    The row is claimed (inserted) before the request runs; the response is stored
    when it finishes so a retry with the same key and body is replayed verbatim.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=20, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    objects = IdempotencyKeyManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
