"""The Helm values validate against the official chart's schema and say what the platform needs."""

import subprocess
import sys

import pytest
import yaml

from tests.deployment.conftest import HELM, OVERLAYS, VALIDATOR


@pytest.mark.parametrize("overlay", [None, *OVERLAYS], ids=lambda p: p.stem if p else "base")
def test_values_validate_against_the_official_chart_schema(overlay):
    assert VALIDATOR.exists(), f"{VALIDATOR} is absent: CI and developers have ../shared beside the repo"
    files = [str(HELM / "values.yaml")] + ([str(overlay)] if overlay else [])
    result = subprocess.run(
        [sys.executable, str(VALIDATOR), "--strict", *files], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.strip().endswith(f"OK: {len(files)} files valid"), (
        result.stdout + result.stderr
    )


def test_code_locations_match_the_workspace_and_serve_their_modules(values):
    workspace = yaml.safe_load((HELM.parent / "workspace.yaml").read_text())
    modules = {
        e["python_module"]["location_name"]: e["python_module"]["module_name"] for e in workspace["load_from"]
    }
    deployments = values["dagster-user-deployments"]["deployments"]
    assert {d["name"]: d["dagsterApiGrpcArgs"] for d in deployments} == {
        name: ["-m", module] for name, module in modules.items()
    }
    for deployment in deployments:
        assert deployment["includeConfigInLaunchedRuns"]["enabled"], "runs use the location's image and env"
        assert (
            deployment["podSecurityContext"]["runAsNonRoot"] and deployment["podSecurityContext"]["runAsUser"]
        )
        assert deployment["securityContext"]["allowPrivilegeEscalation"] is False
        resources = deployment["resources"]
        assert resources["requests"]["cpu"] and resources["limits"]["memory"], "explicit, small resources"


def test_runs_go_to_kubernetes_with_an_external_database_and_no_static_keys(environment_values):
    values = environment_values
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False and values["postgresql"]["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False, "the password comes from an existing secret"
    assert values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    text = yaml.safe_dump(values)
    for secret_like in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "postgresqlPassword"):
        assert secret_like not in text, f"{secret_like} must not be set in values"
    assert values["concurrency"]["enabled"] and values["concurrency"]["runs"]["maxConcurrentRuns"] > 0
    (backfills,) = [
        limit
        for limit in values["concurrency"]["runs"]["tagConcurrencyLimits"]
        if limit["key"] == "dagster/backfill"
    ]
    assert backfills["value"] == {"applyLimitPerUniqueValue": True}, "the limit applies to each backfill"
    assert values["retention"]["enabled"]
