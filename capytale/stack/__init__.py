"""Run the platform on one machine: keys, HAProxy configuration, processes."""
