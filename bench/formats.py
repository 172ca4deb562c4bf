"""Options every command shares, written once: the output format (--format table|json|csv|markdown,
with --json kept as the alias scripts already use) and the datasheet ASIC rows (--with-asics, off
by default in every command)."""

from __future__ import annotations

import csv
import io
from typing import Any, Callable, Sequence

import click

FORMATS = ("table", "json", "csv", "markdown")


def format_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """Adds ``--format`` and its alias ``--json``; the command receives ``output_format``."""

    def json_alias(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
        if value:
            given = ctx.params.get("output_format")
            if given not in (None, "table", "json"):
                raise click.BadParameter(f"--json contradicts --format {given}", ctx=ctx, param=param)
            ctx.params["output_format"] = "json"
        return value

    function = click.option("--json", "as_json", is_flag=True, expose_value=False, callback=json_alias,
                            help="The same as --format json.")(function)
    return click.option("--format", "output_format", type=click.Choice(FORMATS), default="table",
                        show_default=True, is_eager=True,
                        help="table for reading; json, csv or markdown for scripts and pasting.")(function)


def as_text(output_format: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """``rows`` under ``headers`` as CSV (numbers in full precision) or a Markdown table."""
    if output_format == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([[_csv(v) for v in row] for row in rows])
        return out.getvalue()
    if output_format == "markdown":
        cells = [[_markdown(v) for v in row] for row in rows]
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines) + "\n"
    raise ValueError(f"as_text: {output_format!r} is not csv or markdown")


def _csv(value: Any) -> str:
    if value is None:
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def _markdown(value: Any) -> str:
    from bench.units import format_number

    if value is None:
        return "-"
    text = format_number(value) if isinstance(value, float) else str(value)
    return text.replace("|", "/").replace("\n", " ")


def asics_option(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--with-asics/--no-asics``, the same default everywhere; the command receives ``with_asics``."""
    return click.option("--with-asics/--no-asics", "with_asics", default=False, show_default=True,
                        help="Add the datasheet ASIC rows (bench/data/asics.json).")(function)
