package awsemu

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"time"
)

// AddResourceBehindBack adds a resource to a stack as someone's own
// CloudFormation update would, outside mcloud: the stack's template and
// resources gain it, the stack is UPDATE_COMPLETE at a new version (so a
// change set made before is stale), and the next change set of a template
// without it removes it.
func (e *Emulator) AddResourceBehindBack(stack, logicalID, typ string, props map[string]any) error {
	if _, ok := cfnTypes[typ]; !ok {
		return fmt.Errorf("resource type %s is not emulated", typ)
	}
	return e.updateBehindBack(stack, func(st *cfnStack, tpl *cfnTemplate, now time.Time) error {
		if st.resources[logicalID] != nil {
			return fmt.Errorf("stack %s already has %s", stack, logicalID)
		}
		def := &cfnResDef{Type: typ, Properties: props}
		tpl.Resources[logicalID] = def
		resolved, _ := resolve(deepCopy(props), st, st.params).(map[string]any)
		r := &cfnResource{logical: logicalID, typ: typ, def: def, expected: resolved, actual: deepCopy(resolved).(map[string]any)}
		r.physical, r.attrs = e.physicalFor(st, logicalID, typ, resolved)
		st.resources[logicalID] = r
		e.event(st, logicalID, r.physical, typ, "CREATE_COMPLETE", "", now)
		return nil
	})
}

// ChangeResourceBehindBack sets properties of a stack's resource as
// someone's own CloudFormation update would (overriding the stack policy
// for it), outside mcloud: when a changed property forces replacement,
// the resource gets a new physical id, as in CloudFormation. The next
// change set of mcloud's template then sets the properties back, with the
// same replacement rules. It returns whether the resource was replaced.
func (e *Emulator) ChangeResourceBehindBack(stack, logicalID string, props map[string]any) (replaced bool, err error) {
	err = e.updateBehindBack(stack, func(st *cfnStack, tpl *cfnTemplate, now time.Time) error {
		old := st.resources[logicalID]
		if old == nil {
			return fmt.Errorf("stack %s has no resource %s", stack, logicalID)
		}
		merged := maps.Clone(old.def.Properties)
		var changed []string
		for k, v := range props {
			if !reflect.DeepEqual(merged[k], v) {
				changed = append(changed, k)
			}
			merged[k] = v
		}
		if len(changed) == 0 {
			return fmt.Errorf("%s of stack %s already has those properties", logicalID, stack)
		}
		def := &cfnResDef{Type: old.typ, Properties: merged, DependsOn: old.def.DependsOn}
		tpl.Resources[logicalID] = def
		resolved, _ := resolve(deepCopy(merged), st, st.params).(map[string]any)
		r := &cfnResource{logical: logicalID, typ: old.typ, def: def, expected: resolved, actual: deepCopy(resolved).(map[string]any),
			physical: old.physical, attrs: old.attrs}
		replaced = replacement(old.typ, changed) == "True"
		if replaced {
			r.physical, r.attrs = e.physicalFor(st, logicalID, old.typ, resolved)
			e.event(st, logicalID, r.physical, old.typ, "UPDATE_IN_PROGRESS", ReplacementReason, now)
		}
		st.resources[logicalID] = r
		e.event(st, logicalID, r.physical, old.typ, "UPDATE_COMPLETE", "", now)
		if replaced {
			e.event(st, logicalID, old.physical, old.typ, "DELETE_COMPLETE", "", now)
		}
		return nil
	})
	return replaced, err
}

// updateBehindBack runs change on a copy of the stack's template as an
// update someone made outside mcloud: the stack is UPDATE_COMPLETE at a new
// version afterwards, so a change set made before is stale.
func (e *Emulator) updateBehindBack(stack string, change func(st *cfnStack, tpl *cfnTemplate, now time.Time) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, st := range e.stacks {
		if st.name != stack || st.status == "REVIEW_IN_PROGRESS" {
			continue
		}
		e.settle(st)
		if strings.HasSuffix(st.status, "_IN_PROGRESS") || !strings.HasSuffix(st.status, "_COMPLETE") || strings.HasPrefix(st.status, "ROLLBACK") {
			return fmt.Errorf("stack %s is %s and cannot be updated", stack, st.status)
		}
		tpl := *st.tpl
		tpl.Resources = maps.Clone(st.tpl.Resources)
		now := e.clock.Now()
		events := len(st.events)
		e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated", now)
		if err := change(st, &tpl, now); err != nil {
			st.events = st.events[:events] // the update was refused: it never started
			return err
		}
		body, err := json.Marshal(tpl)
		if err != nil {
			return err
		}
		st.tpl, st.body = &tpl, string(body)
		st.status, st.updated = "UPDATE_COMPLETE", now
		st.version++
		e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE", "", now)
		return nil
	}
	return fmt.Errorf("no stack %s", stack)
}
