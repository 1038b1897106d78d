package server

import (
	"bytes"
	"errors"
	"io"

	"github.com/go-json-experiment/json/jsontext"
)

// strictJSON checks what encoding/json lets through when decodeJSON has
// decoded a body (README.md#http-api-v1):
//
//   - invalid UTF-8, raw or as an escaped lone surrogate ("\ud800"), which
//     encoding/json silently turns into U+FFFD, so what we stored would
//     differ from what was sent: 400;
//   - null, for the body or any member: encoding/json leaves the field as
//     it was, so "nickname": null would read as "no change" although
//     /openapi.json types every member as a string, number or boolean: 400.
//
// jsontext (the tokenizer of encoding/json/v2) checks UTF-8 by default.
// Duplicate names stay allowed, as encoding/json allows them.
func strictJSON(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	for {
		tok, err := dec.ReadToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalidRequest("the body must be valid UTF-8 (no invalid bytes, no lone surrogate escapes)")
		}
		if tok.Kind() == 'n' {
			if name := nullMember(dec); name != "" {
				return invalidRequest("%s: must not be null (leave it out instead)", name)
			}
			return invalidRequest("the body must be a JSON object, and no value in it null")
		}
	}
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
