"""The Typer CLI: one sub-app per noun, thin (parse, call the core, render)."""
