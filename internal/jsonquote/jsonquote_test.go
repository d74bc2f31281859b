package jsonquote

import (
	"bytes"
	"encoding/json"
	"testing"
)

func marshal(t *testing.T, s string, html bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppend(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "<a&b>", "\b\f\n\r\t\x00\x1f", "é漢字", "\u2028\u2029", "bad\xffutf8", "\xe2\x80"} {
		for _, html := range []bool{false, true} {
			got, want := Append(nil, s, html), marshal(t, s, html)
			if !bytes.Equal(got, want) {
				t.Errorf("Append(%q, html=%v) = %s, want %s", s, html, got, want)
			}
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("<a&b>\u2028\xff")
	f.Fuzz(func(t *testing.T, s string) {
		for _, html := range []bool{false, true} {
			if got, want := Append(nil, s, html), marshal(t, s, html); !bytes.Equal(got, want) {
				t.Fatalf("Append(%q, html=%v) = %s, want %s", s, html, got, want)
			}
		}
	})
}
