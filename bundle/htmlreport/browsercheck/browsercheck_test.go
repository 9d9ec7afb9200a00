package browsercheck

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

func pngOf(t testing.TB, w, h int, paint func(x, y int) color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, paint(x, y))
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestColours(t *testing.T) {
	white := color.RGBA{255, 255, 255, 255}
	tests := []struct {
		name     string
		data     []byte
		distinct int
		top      float64
	}{
		{"blank", pngOf(t, 10, 10, func(int, int) color.Color { return white }), 1, 1},
		{"a quarter red", pngOf(t, 10, 10, func(x, y int) color.Color {
			if x < 5 && y < 5 {
				return color.RGBA{200, 0, 0, 255}
			}
			return white
		}), 2, 0.75},
		{"a gradient", pngOf(t, 16, 1, func(x, _ int) color.Color { return color.Gray{uint8(x * 16)} }), 16, 1.0 / 16},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, top, err := Colours(tc.data)
			if err != nil || d != tc.distinct || top != tc.top {
				t.Errorf("got %d colours, top %v (%v); want %d, %v", d, top, err, tc.distinct, tc.top)
			}
		})
	}
	if _, _, err := Colours([]byte("not a png")); err == nil {
		t.Error("want an error for bytes that are no PNG")
	}
	if p, err := Size(tests[2].data); err != nil || p != (image.Point{16, 1}) {
		t.Errorf("Size: %v, %v", p, err)
	}
}

// FuzzColours: any input is decoded or refused, never a panic.
func FuzzColours(f *testing.F) {
	f.Add(pngOf(f, 3, 2, func(x, y int) color.Color { return color.Gray{uint8(x + y)} }))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if cfg, err := png.DecodeConfig(bytes.NewReader(data)); err == nil && cfg.Width*cfg.Height > 1<<20 {
			return // a huge image is no screenshot of ours
		}
		Colours(data)
	})
}
