"""Compile locale/*.po to .mo with babel, so no GNU gettext is needed on the machine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile every .po file under LOCALE_PATHS into its .mo (babel; no gettext needed)."

    def handle(self, *args: Any, **options: Any) -> None:
        compiled = 0
        for locale_dir in map(Path, settings.LOCALE_PATHS):
            for po_path in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
                mo_path = po_path.with_suffix(".mo")
                if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
                    continue
                try:
                    with po_path.open("rb") as po_file:
                        catalog = read_po(po_file)
                except Exception as exc:  # babel raises several parse error types
                    raise CommandError(f"{po_path}: {exc}") from exc
                with mo_path.open("wb") as mo_file:
                    write_mo(mo_file, catalog)
                compiled += 1
        if int(options.get("verbosity", 1)) > 0:
            self.stdout.write(f"compiled {compiled} translation catalogue(s)")
