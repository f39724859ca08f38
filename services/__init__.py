"""Capytale's services: auth, activities, router, spawner (and what runs in a student's server).

Every process of the platform imports this package first, so it holds the one import-time choice
they all share: jsonschema's checker of the ``iri`` formats stays out. Jupyter's packages pull in
``jsonschema[format-nongpl]``, whose ``rfc3987-syntax`` builds 35 Earley parsers when it is
imported (2.6 CPU-seconds and 16 MiB in each process that imports Jupyter or nbformat, measured on
a 2-core machine: a gunicorn worker of activities, a zygote, every student's container). No
schema of Jupyter's or ours uses those formats; without the module, jsonschema leaves them
unchecked, as it does wherever the package is not installed.
"""
import sys

sys.modules.setdefault("rfc3987_syntax", None)  # None: ``import rfc3987_syntax`` raises ImportError
