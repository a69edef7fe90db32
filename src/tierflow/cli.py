"""The `tierflow` command line: devnet, deploy, and (from the platform) index, reconcile, serve, up."""

from __future__ import annotations

import typer

from tierflow.clierrors import friendly

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Tierflow supply-chain finance platform")


def _register_commands() -> None:
    # Each area owns its commands in its own module; importing registers them on `app`.
    from tierflow.chain import commands as chain_commands
    from tierflow.runner import up_command

    app.command("up")(up_command)

    chain_commands.register(app)
    from tierflow.platform import commands as platform_commands

    platform_commands.register(app)
    # Bad settings, an unreachable node or database: one line and exit 2 from every command.
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = friendly(info.callback)


_register_commands()

if __name__ == "__main__":
    app()
