"""What runs inside a student's Jupyter server: its configuration and its identity provider."""
