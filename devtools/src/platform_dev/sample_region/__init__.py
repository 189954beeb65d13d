"""A deterministic sample region with known truth: sources as real providers publish them.

Build with ``python -m landing_zone.sample_region build --out DIR --size small|bench --seed N``.
"""
