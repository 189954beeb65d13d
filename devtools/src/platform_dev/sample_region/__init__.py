"""A deterministic sample region with known truth: sources as real providers publish them.

Build with ``python -m platform_dev.sample_region build --out DIR --size small|bench --seed N``.
"""
