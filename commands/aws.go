package commands

// AWSAccounts is what the AWS verbs need of integrations/aws. Placeholder
// until those verbs land: restore.go, backup.go and dbexport.go define it.
type AWSAccounts interface{}
