"""Hourly prices of the node pools, for cost attribution (:mod:`shared.costs`).

List prices: on-demand Linux, USD per node-hour in ``eu-central-1`` (the region of the generated
node-pool manifest), approximate, as published by AWS at the time of writing. Override them here with
your contract's prices (savings plans, spot, another region): the cost report prices every step with
these numbers, so they only need to be right relative to each other to rank assets, and right in
absolute terms to budget.
"""

from collections.abc import Mapping
from types import MappingProxyType

from shared.k8s.node_pools import NODE_POOLS, UnknownNodePoolError

HOURLY_PRICE_USD: Mapping[str, float] = MappingProxyType(
    {
        "small": 0.115,  # m6i.large
        "medium": 0.461,  # m6i.2xlarge
        "large": 0.922,  # m6i.4xlarge
        "xlarge": 1.843,  # m6i.8xlarge
        "memory-heavy": 1.216,  # r6i.4xlarge
        "gpu": 1.472,  # g5.2xlarge
    }
)


def hourly_price(pool: str) -> float:
    """USD per hour of one whole node of ``pool``; raises :class:`UnknownNodePoolError` for a name
    outside the catalogue (a price for a pool that does not exist is a typo)."""
    if pool not in NODE_POOLS or pool not in HOURLY_PRICE_USD:
        raise UnknownNodePoolError(pool, NODE_POOLS)
    return HOURLY_PRICE_USD[pool]
