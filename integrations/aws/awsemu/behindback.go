package awsemu

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
)

// AddResourceBehindBack adds a resource to a stack as someone's own
// CloudFormation update would, outside mcloud: the stack's template and
// resources gain it, the stack is UPDATE_COMPLETE at a new version (so a
// change set made before is stale), and the next change set of a template
// without it removes it.
func (e *Emulator) AddResourceBehindBack(stack, logicalID, typ string, props map[string]any) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := cfnTypes[typ]; !ok {
		return fmt.Errorf("resource type %s is not emulated", typ)
	}
	for _, st := range e.stacks {
		if st.name != stack || st.status == "REVIEW_IN_PROGRESS" {
			continue
		}
		e.settle(st)
		if strings.HasSuffix(st.status, "_IN_PROGRESS") || !strings.HasSuffix(st.status, "_COMPLETE") || strings.HasPrefix(st.status, "ROLLBACK") {
			return fmt.Errorf("stack %s is %s and cannot be updated", stack, st.status)
		}
		if st.resources[logicalID] != nil {
			return fmt.Errorf("stack %s already has %s", stack, logicalID)
		}
		def := &cfnResDef{Type: typ, Properties: props}
		tpl := *st.tpl
		tpl.Resources = maps.Clone(st.tpl.Resources)
		tpl.Resources[logicalID] = def
		body, err := json.Marshal(tpl)
		if err != nil {
			return err
		}
		now := e.clock.Now()
		e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated", now)
		resolved, _ := resolve(deepCopy(props), st, st.params).(map[string]any)
		r := &cfnResource{logical: logicalID, typ: typ, def: def, expected: resolved, actual: deepCopy(resolved).(map[string]any)}
		r.physical, r.attrs = e.physicalFor(st, logicalID, typ, resolved)
		st.resources[logicalID] = r
		e.event(st, logicalID, r.physical, typ, "CREATE_COMPLETE", "", now)
		st.tpl, st.body = &tpl, string(body)
		st.status, st.updated = "UPDATE_COMPLETE", now
		st.version++
		e.event(st, st.name, st.id, "AWS::CloudFormation::Stack", "UPDATE_COMPLETE", "", now)
		return nil
	}
	return fmt.Errorf("no stack %s", stack)
}
