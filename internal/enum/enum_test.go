package enum

import (
	"strings"
	"testing"
)

type color int

var colors = &Names[color]{Pkg: "paint", Type: "color", What: "paint colour", Names: []string{"", "red", "dark-blue"},
	Aliases: map[string]color{"navy": 2}, MaxQuote: 8}

func TestNames(t *testing.T) {
	// Expected values: the behaviour the data and meta enums had before
	// they shared this package.
	for _, c := range []struct {
		in   string
		want color
	}{{"", 0}, {" red ", 1}, {"RED", 1}, {"dark_blue", 2}, {"Dark-Blue", 2}, {"navy", 2}, {"NAVY", 2}} {
		if got, err := colors.Parse(c.in); err != nil || got != c.want {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	_, err := colors.Parse("ultraviolet")
	if err == nil || err.Error() != `unknown paint colour "ultravio..." (want one of red, dark-blue)` {
		t.Errorf("Parse(ultraviolet) error %v", err)
	}
	if got := colors.String(0) + "|" + colors.String(2) + "|" + colors.String(3) + "|" + colors.String(-1); got != "|dark-blue|color(3)|color(-1)" {
		t.Errorf("String: %q", got)
	}
	if b, err := colors.Marshal(0); err != nil || len(b) != 0 {
		t.Errorf("Marshal(0) = %q, %v", b, err)
	}
	if _, err := colors.Marshal(3); err == nil || err.Error() != "paint: invalid color(3)" {
		t.Errorf("Marshal(3) error %v", err)
	}
	c := color(1)
	if err := colors.Unmarshal(&c, []byte("pink")); err == nil || c != 0 || !strings.Contains(err.Error(), `"pink"`) {
		t.Errorf("Unmarshal(pink) = %v, %v; want unset and an error", c, err)
	}
}
