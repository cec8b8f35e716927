package commands

// backupVerb is not built yet; nil verbs are left out of the registry.
func backupVerb() *Verb { return nil }

// backupsVerb is not built yet; nil verbs are left out of the registry.
func backupsVerb() *Verb { return nil }
