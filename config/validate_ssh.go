package config

// validateSSHOps checks the keys patch and run use (ssh, environments'
// patch settings, host users). Each problem starts with its key's path.
func (c *Config) validateSSHOps() []string { return nil }
