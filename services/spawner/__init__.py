"""The agent of one notebook node: runs its students' Jupyter servers and keeps CHP's routes.

``python -m services.spawner`` runs it (see README.md); :mod:`.agent` wires the
parts: :mod:`.servers` (start, stop, reconcile), :mod:`.backends` (how servers
run; :mod:`.zygote` forks them), :mod:`.proxy` (CHP's API), :mod:`.culling`,
and :mod:`.jupyter` (what runs inside a student's server).
"""
