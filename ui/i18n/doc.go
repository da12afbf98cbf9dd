// Package i18n holds the kiosk screens' strings, one embedded JSON file per
// language, looked up by key. It owns only text: no Fyne, no engine state.
// Every key must exist in every language (i18n_test.go checks it, along with
// the format verbs each string takes).
package i18n
