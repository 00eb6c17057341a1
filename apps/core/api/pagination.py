"""Cursor pagination: stable under inserts and never a COUNT(*) of the table."""

from __future__ import annotations

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    """`{"results": [...], "next": url|null, "previous": url|null}`; `?limit=` up to 500.

    Views order by a column that is (nearly) unique and indexed; `-created_at` by default.
    """

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-created_at"
