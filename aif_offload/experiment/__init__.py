"""Running agents in the environment and storing what happened (``results.nc``)."""
