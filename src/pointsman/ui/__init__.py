"""The live dashboard at ``/ui``: static assets bundled in the package and their routes."""
