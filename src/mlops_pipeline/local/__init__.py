"""The local runtime: the rendered state machines run on one machine, with real work and no AWS account."""
