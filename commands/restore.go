package commands

// restoreLogsVerb is not built yet; nil verbs are left out of the registry.
func restoreLogsVerb() *Verb { return nil }

// restoreArtifactsVerb is not built yet; nil verbs are left out of the registry.
func restoreArtifactsVerb() *Verb { return nil }
