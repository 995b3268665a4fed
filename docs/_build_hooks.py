"""mkdocs build hook: the CLI reference is rendered from the click commands at build time, so it cannot drift.

``docs/cli.md`` holds the marker below; every ``regbench`` command's ``--help`` replaces it.
"""

from __future__ import annotations

import click

MARKER = "<!-- regbench-cli-reference -->"


def _help(command: click.Command, name: str, parent: click.Context | None) -> tuple[str, click.Context]:
    ctx = click.Context(command, info_name=name, parent=parent, terminal_width=100, max_content_width=100)
    return command.get_help(ctx), ctx


def cli_reference() -> str:
    """Markdown: one section per command, with its help text verbatim."""
    from regbench.cli import main

    text, root = _help(main, "regbench", None)
    parts = ["## regbench", "", "```text", text, "```", ""]
    for name in sorted(main.commands):
        help_text, _ = _help(main.commands[name], name, root)
        parts += [f"## regbench {name}", "", "```text", help_text, "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, cli_reference())
    return markdown
