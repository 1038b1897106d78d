package server

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// strictJSON checks what encoding/json lets through when decodeJSON has
// decoded a body into v (README.md#http-api-v1):
//
//   - invalid UTF-8, raw or as an escaped lone surrogate ("\ud800"), which
//     encoding/json silently turns into U+FFFD, so what we stored would
//     differ from what was sent: 400 wherever it is, as text that is not
//     UTF-8 is not JSON;
//   - null, for the body or any member v has: encoding/json leaves the field
//     as it was, so "nickname": null would read as "no change" although
//     /openapi.json types every member as a string, number or boolean: 400.
//     Members v does not have are ignored whatever their value, as the
//     API's unknown fields are (README.md#http-api-v1).
//
// jsontext (the tokenizer of encoding/json/v2) checks UTF-8 by default.
// Duplicate names stay allowed, as encoding/json allows them.
func strictJSON(body []byte, v any) error {
	names := cachedMemberNames(reflect.TypeOf(v))
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	for {
		tok, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalidRequest("the body must be valid UTF-8 (no invalid bytes, no lone surrogate escapes)")
		}
		if dec.StackDepth() == 1 && tok.Kind() == '"' {
			// A member name of the body's object (an odd count of its
			// names and values so far): skip the value of an unknown one.
			if _, n := dec.StackIndex(1); n%2 == 1 && !slices.ContainsFunc(names, func(k string) bool { return strings.EqualFold(k, tok.String()) }) {
				if err := dec.SkipValue(); err != nil {
					return invalidRequest("the body must be valid UTF-8 (no invalid bytes, no lone surrogate escapes)")
				}
				continue
			}
		}
		if tok.Kind() == 'n' {
			if name := nullMember(dec); name != "" {
				return invalidRequest("%s: must not be null (leave it out instead)", name)
			}
			return invalidRequest("the body must be a JSON object, and no value in it null")
		}
	}
}

// memberNamesOf keeps memberNames per request type: every JSON body of the
// login's path asks, and the answer never changes.
var memberNamesOf sync.Map // reflect.Type -> []string

func cachedMemberNames(t reflect.Type) []string {
	if v, ok := memberNamesOf.Load(t); ok {
		return v.([]string)
	}
	names := memberNames(t)
	memberNamesOf.Store(t, names)
	return names
}

// memberNames are the JSON member names encoding/json decodes into the
// struct t points to (it matches them in any case).
func memberNames(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

// nullMember names the member whose value the decoder just read, from its
// stack pointer ("/nickname" -> "nickname").
func nullMember(dec *jsontext.Decoder) string {
	p := string(dec.StackPointer())
	if len(p) > 1 {
		return p[1:]
	}
	return ""
}
