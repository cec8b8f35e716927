package bot

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// The app manifest a team creates the app from must ask for what the
// adapter uses: its command, buttons, mentions, Socket Mode, and the scopes
// its calls need.
func TestManifestMatchesTheAdapter(t *testing.T) {
	data, err := os.ReadFile("../manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			BotUser struct {
				DisplayName string `yaml:"display_name"`
			} `yaml:"bot_user"`
			SlashCommands []struct{ Command string } `yaml:"slash_commands"`
		}
		OAuth struct {
			Scopes struct{ Bot []string } `yaml:"scopes"`
		} `yaml:"oauth_config"`
		Settings struct {
			Events struct {
				BotEvents []string `yaml:"bot_events"`
			} `yaml:"event_subscriptions"`
			Interactivity struct {
				Enabled bool `yaml:"is_enabled"`
			} `yaml:"interactivity"`
			SocketMode bool `yaml:"socket_mode_enabled"`
		}
	}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != SlashCommand {
		t.Errorf("slash commands = %+v, want just %s", m.Features.SlashCommands, SlashCommand)
	}
	for _, scope := range []string{"commands", "chat:write", "app_mentions:read", "channels:history", "groups:history", "im:write"} {
		if !slices.Contains(m.OAuth.Scopes.Bot, scope) {
			t.Errorf("bot scopes lack %s", scope)
		}
	}
	if !slices.Contains(m.Settings.Events.BotEvents, "app_mention") || !m.Settings.Interactivity.Enabled || !m.Settings.SocketMode {
		t.Errorf("settings = %+v; want app_mention events, interactivity and Socket Mode", m.Settings)
	}
	if m.Features.BotUser.DisplayName == "" {
		t.Error("no bot user")
	}
}
