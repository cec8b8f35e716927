package commands

import "github.com/mcloud/mcloud/config"

// NewWithVerbs builds a service with extra verbs besides the real ones,
// for tests of the registry itself (sub-verbs no real verb has yet).
func NewWithVerbs(cfg *config.Config, st Store, extra ...*Verb) (*Service, error) {
	return newService(cfg, st, append(allVerbs(), extra...))
}
