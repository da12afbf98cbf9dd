package kiosk

import "fmt"

// Names holds the word for each value of a fixed-number type (a State, a
// Kind, a store's record states): the one table its String reads and, where
// the word is read back from configuration, its parser.
type Names[T ~uint8 | ~uint16] map[T]string

// Name is v's word, or what(v) for a number the table does not hold, so
// that an unknown value still says which number it was.
func (n Names[T]) Name(what string, v T) string {
	if s, ok := n[v]; ok {
		return s
	}
	return fmt.Sprintf("%s(%d)", what, uint64(v))
}

// Value is the value whose word is word; false when none has it.
func (n Names[T]) Value(word string) (T, bool) {
	for v, s := range n {
		if s == word {
			return v, true
		}
	}
	return 0, false
}
