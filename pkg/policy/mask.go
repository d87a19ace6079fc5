package policy

import "unicode/utf8"

// MaskName keeps a name's first character: "张三丰" → "张**".
func MaskName(name string) string {
	if name == "" {
		return ""
	}
	r, size := utf8.DecodeRuneInString(name)
	n := utf8.RuneCountInString(name[size:])
	return string(r) + stars(max(n, 1))
}

// MaskPhone keeps a phone number's first three and last four digits when it
// has more than eight, else its last two: "13812345678" → "138****5678".
func MaskPhone(phone string) string {
	r := []rune(phone)
	switch {
	case len(r) == 0:
		return ""
	case len(r) > 8:
		return string(r[:3]) + stars(len(r)-7) + string(r[len(r)-4:])
	case len(r) > 2:
		return stars(len(r)-2) + string(r[len(r)-2:])
	}
	return stars(len(r))
}

func stars(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '*'
	}
	return string(b)
}
