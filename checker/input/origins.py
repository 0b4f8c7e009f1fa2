"""Where a spreadsheet record's values came from, so that errors can name the sheet, row and column.

A record assembled from several rows or sheets (`checker.input.assemble`) carries its
`Origins`: for each JSON path it filled, the sheet, the row and the column header as written.
`Origins.locate` appends that place to an error whose path and the record's location do not
already say it (another row, another sheet, or a header that is not the field's dotted path).
`Sheeted` carries a record and its origins from the reader to `records._finish`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checker.input.messages import RecordError, render_path

__all__ = ["Origins", "Sheeted"]


class Origins:
    """Where each part of an assembled record came from: JSON path -> (sheet, row, column).

    The record cells of the first row are the layout's columns (shared by every record of the
    sheet); only what came from other rows or sheets is added one by one. The paths are
    rendered only when an error is located."""

    __slots__ = ("_cells", "_columns", "_extra", "excel", "home")

    def __init__(self, home: tuple[str | None, int], excel: bool,
                 columns: Sequence[tuple[tuple, str, str]] = ()) -> None:
        self.home = home  # the sheet and row of the record's first row
        self.excel = excel
        self._columns = columns  # (path, header, dotted) of the record columns of the home row
        self._extra: list[tuple[tuple, str | None, int, str | None, str | None]] = []
        self._cells: dict[str, tuple[str | None, int, str | None, bool]] | None = None

    def add(self, path: Sequence[Any], sheet: str | None, row: int, header: str | None,
            dotted: str | None = None) -> None:
        self._extra.append((tuple(path), sheet, row, header, dotted))
        self._cells = None

    def _index(self) -> dict[str, tuple[str | None, int, str | None, bool]]:
        if self._cells is None:
            cells = {}
            sheet, row = self.home
            for path, header, dotted in self._columns:
                cells[render_path(list(path))] = (sheet, row, header, header == dotted)
            for path, sheet, row, header, dotted in self._extra:
                plain = (sheet, row) == self.home and (header is None or header == dotted)
                cells[render_path(list(path))] = (sheet, row, header, plain)
            self._cells = cells
        return self._cells

    def locate(self, errors: list[RecordError]) -> list[RecordError]:
        """The errors, each followed by the sheet, row and column of its value where the
        record's location and the error's path do not already say it."""
        return [self._locate(e) for e in errors] if errors else errors

    def _locate(self, e: RecordError) -> RecordError:
        path = e.path
        cells = self._index()
        while path:
            hit = cells.get(path)
            if hit is not None:
                break
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        else:
            return e
        sheet, row, header, plain = hit
        if plain:
            return e
        zh, en = self.where(sheet, row, header)
        return RecordError(e.path, e.code, f"{e.message_zh}（{zh}）", f"{e.message_en} ({en})")

    def where(self, sheet: str | None, row: int, header: str | None) -> tuple[str, str]:
        col_zh = f"，列 '{header}'" if header else ""
        col_en = f", column '{header}'" if header else ""
        if self.excel:
            return f"工作表 '{sheet}' 第 {row} 行{col_zh}", f"sheet '{sheet}', row {row}{col_en}"
        return f"第 {row} 行{col_zh}", f"line {row}{col_en}"


class Sheeted:
    """A record assembled from spreadsheet rows, with the origins of its values (unwrapped by
    `records._finish`, which locates the validator's errors with them)."""

    __slots__ = ("origins", "record")

    def __init__(self, record: dict, origins: Origins) -> None:
        self.record = record
        self.origins = origins
