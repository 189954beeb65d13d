"""helm/node-pools.yaml is generated from the Python catalogue and agrees with it."""

import yaml

from shared.k8s import NODE_POOLS
from shared.k8s.node_pool_manifest import render
from tests.deployment.conftest import HELM


def test_committed_manifest_is_the_generated_one():
    committed = (HELM / "node-pools.yaml").read_text()
    assert committed == render(), "regenerate: python -m shared.k8s.node_pool_manifest > helm/node-pools.yaml"


def test_every_pool_has_its_node_group_with_labels_taints_and_instance_type():
    groups = {
        g["name"]: g for g in yaml.safe_load((HELM / "node-pools.yaml").read_text())["managedNodeGroups"]
    }
    assert set(groups) == set(NODE_POOLS)
    for name, pool in NODE_POOLS.items():
        group = groups[name]
        assert group["instanceType"] == pool.instance_type
        assert group["labels"] == pool.labels
        assert group.get("taints", []) == [t.model_dump() for t in pool.taints]
        assert group["maxPodsPerNode"] == pool.max_pods


def test_a_cluster_of_your_own_gets_its_name_and_region_not_other_pools():
    rendered = yaml.safe_load(render("flood-prod", "eu-west-1"))
    assert rendered["metadata"] == {"name": "flood-prod", "region": "eu-west-1"}
    assert [group["name"] for group in rendered["managedNodeGroups"]] == list(NODE_POOLS)
