"""Serving commands: ``serve`` (start the HTTP service) and ``token add`` (create a token).

Thin wiring only. ``serve`` hands the settings to the service through the environment
(``REACTIVATE_MODELS_DIR``, ``REACTIVATE_TOKENS_FILE``, ``REACTIVATE_CONFIG``) and replaces
itself with ``bentoml serve serving.api.service:Reactivate``, so signals reach the server directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from features.config import CONFIG_ENV
from serving.cli.common import CONFIG_OPTION, MODELS_DIR_OPTION, build_settings, console

SERVICE = "serving.api.service:Reactivate"
TOKENS_OPTION = typer.Option(
    None,
    "--tokens",
    envvar="REACTIVATE_TOKENS_FILE",
    help="Tokens file (digests and clinic scopes).",
)

CLINIC_OPTION = typer.Option(..., "--clinic", help="Clinic id the token may access (repeatable).")

token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


def serve_command(
    host: str = typer.Option(None, "--host", help="Address to bind (default 127.0.0.1)."),
    port: int = typer.Option(None, "--port", min=1, max=65535, help="Port (default 3000)."),
    tokens: Path = TOKENS_OPTION,
    models_dir: Path = MODELS_DIR_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Start the HTTP service on the champion model and the newest scored snapshot."""
    settings = build_settings(config, models_dir)
    from serving.api.auth import tokens_path

    tokens_file = tokens_path(settings, tokens)
    if tokens_file is None or not tokens_file.exists():
        console.print(
            "[yellow]warning:[/yellow] no tokens file: every API call will get 401. "
            "Create one with `reactivate token add --clinic ID --tokens PATH`."
        )
    env = dict(os.environ)
    env["REACTIVATE_MODELS_DIR"] = str(Path(settings.models_dir).resolve())
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    if tokens_file is not None:
        env["REACTIVATE_TOKENS_FILE"] = str(tokens_file.resolve())
    if config is not None:
        env[CONFIG_ENV] = str(Path(config).resolve())
    bind_host = host or settings.serving.host
    bind_port = port or settings.serving.port
    argv = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--host",
        bind_host,
        "--port",
        str(bind_port),
    ]
    console.print(
        f"serving on http://{bind_host}:{bind_port} (models: {env['REACTIVATE_MODELS_DIR']})"
    )
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)


@token_app.command("add")
def token_add(
    clinic: list[str] = CLINIC_OPTION,
    tokens: Path = TOKENS_OPTION,
    label: str = typer.Option(None, "--label", help="Who or what the token is for (stored)."),
    config: Path = CONFIG_OPTION,
) -> None:
    """Create a token for clinic ids; print it once on stdout, store only its digest."""
    from serving.api.auth import add_token, tokens_path

    path = tokens_path(build_settings(config), tokens)
    if path is None:
        console.print("[red]error:[/red] give --tokens PATH (or set REACTIVATE_TOKENS_FILE)")
        raise typer.Exit(2)
    try:
        token = add_token(path, clinic, label=label)
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}", highlight=False)
        raise typer.Exit(2) from err
    console.print(
        f"token for {', '.join(sorted(set(clinic)))} recorded in {path}; "
        "it is shown once, keep it safe",
        highlight=False,
    )
    typer.echo(token)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("serve")(serve_command)
    app.add_typer(token_app, name="token")
