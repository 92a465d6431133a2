"""The command line: ``config check`` explains every problem; the exit code says which."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from pointsman.cli import app

runner = CliRunner()


def test_config_check_ok(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("POINTSMAN_MASTER_KEY", "k")
    path = tmp_path / "ok.yaml"
    path.write_text(
        "server: {master_key: env:POINTSMAN_MASTER_KEY}\n"
        "providers:\n  sim: {protocol: openai, base_url: 'http://127.0.0.1:9100/v1'}\n"
        "models:\n  fast: [{provider: sim, model: sim-small}]\n"
    )
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # Rich wraps long lines
    assert "1 provider(s), 1 alias(es)" in out
    assert "fast → sim/sim-small" in out


def test_config_check_explains_every_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "providers:\n  sim: {protocol: grpc, base_url: 'nowhere', api_key: sk-123}\n"
        "models:\n  fast: [{provider: sm, model: sim-small}]\n"
    )
    result = runner.invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    for expected in (
        "5 problem(s)",
        "server.master_key",
        "unknown protocol 'grpc'; known: openai",
        "'nowhere' is not an http(s) URL",
        "secrets are given by reference only",
        "unknown provider 'sm'; known: sim",
    ):
        assert expected in out, out
    assert "sk-123" not in out
