package config_test

import (
	"fmt"
	"testing"

	"github.com/mcloud/mcloud/config/configtest"
)

// Defaults resolve once, at load: global < customer < environment for
// patch keys, product < host for service and health_url. A level that
// writes a key wins even with an empty or zero value; a key left empty
// ("key:" with nothing) is left out.
func TestDefaultsResolve(t *testing.T) {
	const (
		xProd = "customers[0].environments[0]"
		host  = xProd + ".hosts[0]"
		am    = "https://127.0.0.1:9443/services/Version"
	)
	// got is what a test looks at: customer-x prod's and staging's and
	// customer-y prod's health_retries, customer-x prod's stop command,
	// and x-prod-apim-1's service and health_url.
	type got struct {
		prodRetries, stgRetries, yRetries int
		stop, service, healthURL          string
	}
	for _, tt := range []struct {
		name   string
		change func(*configtest.Builder)
		want   got
	}{
		{"the example: defaults everywhere", func(*configtest.Builder) {}, got{2, 2, 2, "", "wso2am", am}},
		{"global", set("defaults.patch.health_retries", 4), got{4, 4, 4, "", "wso2am", am}},
		{"customer over global", set("customers[0].patch.health_retries", 5), got{5, 5, 2, "", "wso2am", am}},
		{"environment over customer", func(b *configtest.Builder) {
			b.Set("customers[0].patch.health_retries", 5).Set(xProd+".patch.health_retries", 7)
		}, got{7, 5, 2, "", "wso2am", am}},
		{"environment over global", set(xProd+".patch.health_retries", 7), got{7, 2, 2, "", "wso2am", am}},
		{"a zero written wins", func(b *configtest.Builder) {
			b.Set("customers[0].patch.health_retries", 5).Set(xProd+".patch.health_retries", 0)
		}, got{0, 5, 2, "", "wso2am", am}},
		{"a key left empty is left out", set(xProd+".patch.health_retries", nil), got{2, 2, 2, "", "wso2am", am}},
		{"a key only the customer writes", set("customers[0].patch.stop", "svc stop {service}"), got{2, 2, 2, "svc stop {service}", "wso2am", am}},
		{"a key only the global writes", set("defaults.patch.stop", "svc stop {service}"), got{2, 2, 2, "svc stop {service}", "wso2am", am}},
		{"the environment's key over both", func(b *configtest.Builder) {
			b.Set("defaults.patch.stop", "a {service}").Set("customers[0].patch.stop", "b {service}").Set(xProd+".patch.stop", "c {service}")
		}, got{2, 2, 2, "c {service}", "wso2am", am}},
		{"host over product", set(host+".service", "apim"), got{2, 2, 2, "", "apim", am}},
		{"host without a health URL", set(host+".health_url", ""), got{2, 2, 2, "", "wso2am", ""}},
		{"product default changed", set("defaults.products.wso2am.health_url", "https://127.0.0.1:9763/health"), got{2, 2, 2, "", "wso2am", "https://127.0.0.1:9763/health"}},
		{"a product without defaults", func(b *configtest.Builder) {
			b.Set(host+".product", "apim").Set(host+".service", "wso2am")
		}, got{2, 2, 2, "", "wso2am", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := configtest.Example(t)
			tt.change(b)
			c := b.Config()
			x, y := c.Customer("customer-x"), c.Customer("customer-y")
			prod, stg := x.Env("prod"), x.Env("staging")
			h := prod.Hosts[0]
			g := got{prod.Patch.HealthRetries, stg.Patch.HealthRetries, y.Env("prod").Patch.HealthRetries, prod.Patch.Stop, h.Service, h.HealthURL}
			if g != tt.want {
				t.Errorf("got  %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

// Every environment of the example resolves to complete patch settings,
// with the intervals the example gives staging and dev.
func TestExampleDefaultsResolved(t *testing.T) {
	c := mustLoadExample(t)
	var got []string
	for _, cu := range c.Customers {
		for _, env := range cu.Environments {
			p := env.Patch
			if p.Apply == "" || p.Rollback == "" || p.PreCheck == "" {
				t.Errorf("%s/%s: patch not filled from defaults: %+v", cu.Name, env.Name, p)
			}
			got = append(got, fmt.Sprintf("%s/%s %d %s", cu.Name, env.Name, p.HealthRetries, p.HealthInterval.Std()))
			for _, h := range env.Hosts {
				got = append(got, fmt.Sprintf("%s %s %q", h.Name, h.Service, h.HealthURL))
			}
		}
	}
	want := []string{
		"customer-x/prod 2 3s",
		`x-prod-apim-1 wso2am "https://127.0.0.1:9443/services/Version"`,
		`x-prod-apim-2 wso2am "https://127.0.0.1:9443/services/Version"`,
		"customer-x/staging 2 2s",
		`x-stg-apim-1 wso2am "https://127.0.0.1:9443/services/Version"`,
		"customer-y/prod 2 3s",
		`y-prod-is-1 wso2is "https://127.0.0.1:9443/carbon/admin/login.jsp"`,
		"customer-y/dev 1 2s",
		`y-dev-is-1 wso2is ""`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("resolved:\n%q\nwant:\n%q", got, want)
	}
}
