package config

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/mcloud/mcloud/internal/suggest"
)

// resolveDefaults fills what the file leaves out from the level above it:
// an environment's patch keys from its customer's patch, the customer's
// from defaults.patch, and a host's service and health_url from
// defaults.products by its product. A key the file sets at a level wins
// there, even when empty or zero (health_url: "" is "no health URL"), so
// the file always has a way to say "not the default". Everything after
// loading reads only the resolved values.
func (c *Config) resolveDefaults() {
	c.origin = map[string]string{}
	for i := range c.Customers {
		cu := &c.Customers[i]
		cp := fmt.Sprintf("customers[%d]", i)
		c.inherit(&cu.Patch, cp+".patch", c.Defaults.Patch, "defaults.patch")
		for j := range cu.Environments {
			env := &cu.Environments[j]
			ep := fmt.Sprintf("%s.environments[%d]", cp, j)
			c.inherit(&env.Patch, ep+".patch", cu.Patch, cp+".patch")
			for k := range env.Hosts {
				h := &env.Hosts[k]
				if d, ok := c.Defaults.Products[h.Product]; ok && h.Product != "" {
					c.inherit(h, fmt.Sprintf("%s.hosts[%d]", ep, k), d, "defaults.products."+h.Product)
				}
			}
		}
	}
}

// inherit copies into *dst each key of src (a struct with the same yaml
// keys) that the file sets at srcPath, or that was itself inherited there,
// unless the file sets it at dstPath; origin records where each copied
// value was written.
func (c *Config) inherit(dst any, dstPath string, src any, srcPath string) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for i := 0; i < s.NumField(); i++ {
		key := yamlKey(s.Type().Field(i))
		from, ok := c.origin[srcPath+"."+key]
		if !ok && c.has(srcPath+"."+key) {
			from, ok = srcPath+"."+key, true
		}
		if !ok || c.has(dstPath+"."+key) {
			continue
		}
		f := d.FieldByIndex(fieldByKey(d.Type(), key))
		f.Set(s.Field(i))
		c.origin[dstPath+"."+key] = from
	}
}

func yamlKey(f reflect.StructField) string {
	return strings.Split(f.Tag.Get("yaml"), ",")[0]
}

// fieldByKey is the index of t's field with yaml key key; the types given
// to inherit are written to match, so a missing key is a programming error.
func fieldByKey(t reflect.Type, key string) []int {
	for i := 0; i < t.NumField(); i++ {
		if yamlKey(t.Field(i)) == key {
			return []int{i}
		}
	}
	panic(fmt.Sprintf("config: %s has no yaml key %q", t, key))
}

// validateDefaults says what only the defaults section can get wrong: a
// product default no host uses is a typo for one that some host does
// (its hosts then silently go without it). Values are checked where they
// are used, in every environment and host they reach, and reported here.
func (c *Config) validateDefaults(bad complain) {
	var used []string
	for _, cu := range c.Customers {
		for _, env := range cu.Environments {
			for _, h := range env.Hosts {
				if h.Product != "" && !slices.Contains(used, h.Product) {
					used = append(used, h.Product)
				}
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Defaults.Products)) {
		path := "defaults.products." + name
		switch near := suggest.Nearest(name, used); {
		case slices.Contains(used, name):
		case near != "":
			bad(path, "no host has product %q; did you mean %s?", name, near)
		case len(used) == 0:
			bad(path, "no host has product %q; a host names its product with product:", name)
		default:
			bad(path, "no host has product %q; hosts have %s", name, strings.Join(used, ", "))
		}
	}
}
