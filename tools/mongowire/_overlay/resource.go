// Copyright 2021 FerretDB Inc. and referral-hub contributors.
// Licensed under the Apache License, Version 2.0.
//
// referral-hub: resource tracking off.
//
// FerretDB v1.24 tracks every iterator, cursor, transaction and pool it
// creates: a pprof profile entry (which walks the stack) and a finalizer that
// panics when the object is collected unclosed. It is a leak detector for
// FerretDB's own development; measured under a burst of referrals it cost 6%
// of the server's CPU (pprof.(*Profile).Add and runtime.SetFinalizer on each
// of the ~80 commands a referral makes). Here Track and Untrack keep only the
// argument checks, so a wrong call still fails loudly.
package resource

import (
	"fmt"
	"reflect"
	"unsafe"
)

// Token is a tracked object's token; objects hold one in a field named "token".
type Token byte

// NewToken returns a new Token.
func NewToken() *Token {
	return new(Token)
}

// Track checks its arguments and does nothing else (see the package comment).
func Track(obj any, token *Token) {
	checkArgs(obj, token)
}

// Untrack checks its arguments and does nothing else (see the package comment).
func Untrack(obj any, token *Token) {
	checkArgs(obj, token)
}

func checkArgs(obj any, token *Token) {
	if obj == nil {
		panic("obj must not be nil")
	}

	if token == nil {
		panic("token must not be nil")
	}

	pv := reflect.ValueOf(obj)
	if pv.Kind() != reflect.Ptr {
		panic(fmt.Sprintf("obj must be a pointer to struct, got %T", obj))
	}

	v := pv.Elem()
	if v.Kind() != reflect.Struct {
		panic(fmt.Sprintf("obj must be a pointer to struct, got %T", obj))
	}

	f := v.FieldByName("token")
	if f.Kind() != reflect.Ptr || f.UnsafePointer() != unsafe.Pointer(token) {
		panic("token must be a pointer field of a struct")
	}
}
