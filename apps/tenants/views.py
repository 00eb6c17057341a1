"""Pages the tenancy layer answers by itself."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def unknown_host(request: HttpRequest) -> HttpResponse:
    """No tenant has this host: a plain 404 page, never a 500."""
    return render(request, "tenants/unknown_host.html", {"host": request.get_host()}, status=404)
