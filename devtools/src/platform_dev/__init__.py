"""Development tools of the water-data platform (in no image): the sample-region generator
(``python -m platform_dev.sample_region``), the demo runner (``python -m platform_dev.demo``), the SeaweedFS
launcher (``python -m platform_dev.seaweedfs``) and the storage listing (``python -m platform_dev.listing``).
"""
