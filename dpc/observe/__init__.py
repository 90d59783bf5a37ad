"""Reading what the central account recorded: the run log, evaluations, the registry."""
