"""The transactional outbox: one Event row per state change, written in its transaction."""

from __future__ import annotations

import uuid

from django.db import models


class EventSequence(models.Model):
    """The tenant's single event counter row.

    `publish()` increments it with UPDATE ... RETURNING, which holds the row lock until the
    publishing transaction commits: sequences are gapless and follow commit order, so a
    reader of `after_sequence=N` never misses an event that commits late.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="event_sequence_single_row")]

    def __str__(self) -> str:
        return f"event sequence at {self.value}"


class Event(models.Model):
    """A domain event (`invoice.finalized`), with the envelope of ARCHITECTURE.md §4."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=100, db_index=True)
    subject = models.CharField(max_length=100, blank=True, help_text="Id of the object the event is about.")
    sequence = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    api_version = models.CharField(max_length=10)
    data = models.JSONField()

    class Meta:
        ordering = ["sequence"]
        indexes = [models.Index(fields=["type", "sequence"], name="event_type_sequence")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.type}"
