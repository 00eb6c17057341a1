"""What the finance admins of accounts, invoices and payments share.

- `EstimatedCountPaginator`: never COUNT(*)s a large table (ARCHITECTURE.md §6 spirit for the admin).
- `ServiceFormAdmin`: add/change forms saved through a service; a DomainError it raises becomes a
  form error (on `DomainError.field` when the form has that field), never a 500.
- `AuditedAdmin`: django-simple-history's history pages, read-only (no "revert", which would
  write model state without the services).
- `run_per_object`: bulk actions that report success and failure per object (as silver's admin).
- `money_html`, `badge`: how amounts and statuses look.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import cached_property
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection, models
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from apps.core.errors import DomainError
from apps.core.money import MoneyError, format_money, quantize

ModelT = TypeVar("ModelT", bound=models.Model)

# A bulk action touches at most this many objects (each reported on); select fewer, or filter.
MAX_BULK_OBJECTS = 500


# --- Counting -------------------------------------------------------------------------------
def estimated_row_count(model: type[models.Model]) -> int:
    """PostgreSQL's estimate of the table's rows (pg_class.reltuples; -1 when never analysed).

    The table name resolves through the search path, so a tenant model reads its tenant's table.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [model._meta.db_table])
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


class EstimatedCountPaginator(Paginator):
    """A paginator whose count never scans a large table.

    Counts exactly while that is cheap (at most `exact_limit` rows). Beyond it, an unfiltered
    list takes the planner's estimate (pg_class.reltuples) and a filtered one stops counting at
    the limit; `is_estimate` tells the pagination template to say "about" / "more than".
    """

    exact_limit = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        self.is_estimate = False
        self.is_capped = False
        if not isinstance(queryset, models.QuerySet):
            return len(queryset)
        if not queryset.query.where:
            estimate = estimated_row_count(queryset.model)
            if estimate > self.exact_limit:
                self.is_estimate = True
                return estimate
        counted = queryset.order_by()[: self.exact_limit + 1].count()
        if counted > self.exact_limit:
            self.is_capped = True
            return self.exact_limit
        return counted


class FastChangeListMixin:
    """Changelist settings for tables that grow to millions of rows."""

    paginator: type = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


class DateRangeFilter(admin.FieldListFilter):
    """From/to dates on a date field (`<field>__gte`, `<field>__lte`), both optional."""

    template = "admin/billing/date_range_filter.html"

    def __init__(  # noqa: PLR0917 - Django's FieldListFilter signature
        self,
        field: Any,
        request: HttpRequest,
        params: dict[str, Any],
        model: Any,
        model_admin: Any,
        field_path: str,
    ) -> None:
        self.lookup_since = f"{field_path}__gte"
        self.lookup_until = f"{field_path}__lte"
        super().__init__(field, request, params, model, model_admin, field_path)
        # An empty input means "no bound", not an invalid date.
        for name in (self.lookup_since, self.lookup_until):
            values = [value for value in cast(list[str], self.used_parameters.get(name, [])) if value]
            if values:
                self.used_parameters[name] = values
            else:
                self.used_parameters.pop(name, None)

    def expected_parameters(self) -> list[str | None]:
        return [self.lookup_since, self.lookup_until]

    def choices(self, changelist: Any) -> Iterator[Any]:
        used = cast(dict[str, list[str]], self.used_parameters)
        keep = {name: value for name, value in changelist.params.items() if name not in self.expected_parameters()}
        yield {
            "since_name": self.lookup_since,
            "until_name": self.lookup_until,
            "since": (used.get(self.lookup_since) or [""])[0],
            "until": (used.get(self.lookup_until) or [""])[0],
            "keep": sorted(keep.items()),
            "clear_url": changelist.get_query_string(remove=self.expected_parameters()),
            "active": bool(self.used_parameters),
        }


# --- Money and status display ---------------------------------------------------------------
def money_text(amount: Decimal | None, currency: str) -> str:
    """`₦25,000.00` / `¥1,500` / `BHD 1.250`: babel's format at the currency's minor unit."""
    if amount is None:
        return "-"
    try:
        return format_money(quantize(amount, currency), currency)
    except MoneyError:
        return f"{amount} {currency}"


def money_html(amount: Decimal | None, currency: str, *, strong: bool = False) -> SafeString:
    style = "white-space:nowrap;font-variant-numeric:tabular-nums;" + ("font-weight:600;" if strong else "")
    return format_html('<span style="{}">{}</span>', style, money_text(amount, currency))


BADGE_COLOURS = {
    "draft": ("#5a5a5a", "#ececec"),
    "open": ("#0b5394", "#dbe9f8"),
    "paid": ("#1e6b2f", "#dcf2e0"),
    "void": ("#6b6b6b", "#f0f0f0"),
    "uncollectible": ("#8a1c1c", "#f9dede"),
    "active": ("#1e6b2f", "#dcf2e0"),
    "suspended": ("#8a5a00", "#fdf0d2"),
    "closed": ("#6b6b6b", "#f0f0f0"),
    "succeeded": ("#1e6b2f", "#dcf2e0"),
    "pending": ("#8a5a00", "#fdf0d2"),
    "failed": ("#8a1c1c", "#f9dede"),
    "overdue": ("#8a1c1c", "#f9dede"),
}


def badge(value: str, label: str | None = None) -> SafeString:
    colour, background = BADGE_COLOURS.get(value, ("#333", "#eee"))
    return format_html(
        '<span class="billing-badge billing-badge-{}" style="display:inline-block;padding:1px 8px;'
        'border-radius:10px;font-size:11px;font-weight:600;color:{};background:{}">{}</span>',
        value,
        colour,
        background,
        label or value,
    )


# --- Domain errors as form errors -----------------------------------------------------------
def add_domain_error(form: forms.BaseForm, error: DomainError) -> None:
    """Show a service's refusal on the form: on its field when the form has one, else on top."""
    field = error.field if error.field in form.fields else None
    if field is not None and field in getattr(form, "cleaned_data", {}):
        del form.cleaned_data[field]
    if field is None and error.field and error.field.startswith("lines["):
        # "lines[2].quantity" -> "Line 3 (quantity): ..."
        index, _, name = error.field[len("lines[") :].partition("].")
        if index.isdigit():
            form.add_error(None, f"Line {int(index) + 1}{f' ({name})' if name else ''}: {error.message}")
            return
    form.add_error(field, error.message)


class ServiceRefused(Exception):
    """A service refused the save of an admin form; carries the DomainError to show."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


class ServiceFormAdmin(admin.ModelAdmin[ModelT]):
    """Add/change forms whose save calls a service.

    `save_model`/`save_related` wrap the service call in `refusals_as_form_errors()`. When the
    service refuses, the whole save rolls back (changeform_view is atomic) and the view runs
    again on the same POST with the error attached to the form, so staff see a normal form
    error instead of a 500.
    """

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceRefused as refused:
            request.service_error = refused.error  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        refusal: DomainError | None = getattr(request, "service_error", None)
        if refusal is None:
            return form_class
        error: DomainError = refusal

        class WithServiceError(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> Any:
                cleaned = super().clean()
                add_domain_error(self, error)
                return cleaned

        WithServiceError.__name__ = form_class.__name__
        return WithServiceError


def adopt_saved(target: models.Model, saved: models.Model) -> None:
    """Make the admin's instance the row a service saved (number, totals, timestamps), so that
    the admin's messages, log entry and redirect use it."""
    for model_field in saved._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(saved, model_field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


@contextmanager
def refusals_as_form_errors() -> Iterator[None]:
    """`with refusals_as_form_errors(): service(...)` inside save_model / save_related."""
    try:
        yield
    except DomainError as exc:
        raise ServiceRefused(exc) from exc


# --- Audit trail ----------------------------------------------------------------------------
class AuditedAdmin(SimpleHistoryAdmin):
    """The History page lists who changed what and when (django-simple-history).

    Reverting to an old version is disabled: it would write the model directly, bypassing the
    services (and their events, locks and balance updates).
    """

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_history_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: Any = None
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied("history is read-only")
        return super().history_form_view(request, object_id, version_id, extra_context)


# --- Bulk actions ---------------------------------------------------------------------------
def bounded_selection(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, queryset: models.QuerySet[ModelT]
) -> list[ModelT] | None:
    """The selected objects, or None (with a message) when more than MAX_BULK_OBJECTS are selected."""
    objects = list(queryset[: MAX_BULK_OBJECTS + 1])
    if len(objects) > MAX_BULK_OBJECTS:
        model_admin.message_user(
            request,
            f"Select at most {MAX_BULK_OBJECTS} objects per action (filter the list first); nothing was done.",
            messages.ERROR,
        )
        return None
    return objects


def run_per_object(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    objects: Iterable[ModelT],
    *,
    verb: str,
    action: Callable[[ModelT], Any],
    label: Callable[[ModelT], str] = str,
) -> tuple[int, int]:
    """Run `action` on each object in its own transaction (the service's) and report each one.

    One object's refusal never undoes another's success; a string returned by `action` is
    added to its success message. Returns (succeeded, failed).
    """
    succeeded = failed = 0
    for obj in objects:
        name = label(obj)
        try:
            detail = action(obj)
        except DomainError as exc:
            failed += 1
            model_admin.message_user(request, f"{name}: not {verb}: {exc.message}", messages.ERROR)
        else:
            succeeded += 1
            suffix = f" {detail}" if isinstance(detail, str) and detail else ""
            model_admin.message_user(request, f"{name}: {verb}{suffix}", messages.SUCCESS)
    if succeeded + failed > 1:
        level = messages.WARNING if failed and succeeded else (messages.ERROR if failed else messages.SUCCESS)
        model_admin.message_user(request, f"{succeeded} {verb}, {failed} refused.", level)
    return succeeded, failed


def run_bulk_action(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: models.QuerySet[ModelT],
    *,
    verb: str,
    action: Callable[[ModelT], Any],
) -> None:
    """A changelist action over at most MAX_BULK_OBJECTS objects, reported per object."""
    objects = bounded_selection(model_admin, request, queryset)
    if objects is not None:
        run_per_object(model_admin, request, objects, verb=verb, action=action)


class ReadOnlyInline(admin.TabularInline[Any, Any]):
    """Rows shown under their parent, never edited there (allocations, refunds, applications)."""

    extra = 0
    can_delete = False
    related: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return super().get_queryset(request).select_related(*self.related)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def small_table(
    rows: Iterable[Iterable[Any]], headers: Iterable[str] = (), *, more_url: str = "", more_label: str = ""
) -> SafeString:
    """A compact HTML table of (already safe or plain) cells, with an optional "see all" link."""
    rows = [list(row) for row in rows]
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    more = (
        format_html('<p style="margin-top:4px"><a href="{}">{} &rarr;</a></p>', more_url, more_label)
        if more_url
        else ""
    )
    return format_html(
        '<table style="min-width:60%">{}<tbody>{}</tbody></table>{}',
        format_html("<thead><tr>{}</tr></thead>", head) if head else "",
        body if rows else format_html("<tr><td>{}</td></tr>", "None yet."),
        more,
    )


def admin_page(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    template: str,
    *,
    title: str,
    form: forms.BaseForm | None = None,
    **context: Any,
) -> TemplateResponse:
    """An admin page of our own (an issue form, a preview, a confirmation) in the admin's frame."""
    media = model_admin.media + form.media if form is not None else model_admin.media
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.model._meta,
            "form": form,
            "media": media,
            **context,
        },
    )


def autocomplete_for(request: HttpRequest) -> str | None:
    """ "app_label.model_name.field_name" when `request` is the admin's autocomplete for that
    form field (so a list can offer only the choices the form accepts), else None."""
    match = request.resolver_match
    if match is None or match.url_name != "autocomplete":
        return None
    params = request.GET
    return f"{params.get('app_label')}.{params.get('model_name')}.{params.get('field_name')}"


def has_perm(request: HttpRequest, perm: str) -> bool:
    return bool(request.user.has_perm(perm))
