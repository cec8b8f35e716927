package commands

// SSHConnector is what patch and run need of integrations/ssh. Placeholder
// until those verbs land in patch.go and run.go.
type SSHConnector interface{}
