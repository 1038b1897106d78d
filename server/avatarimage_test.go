package server_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	_ "golang.org/x/image/webp" // image.Decode of WebP

	"github.com/scanlogin/scanlogin/server/servertest"
)

// testImage is a w×h gradient.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.NRGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegWithGPS is a JPEG photo as a phone takes it: an Exif APP1 segment
// with a GPS IFD (latitude 39°54'N) right after SOI.
func jpegWithGPS(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(64, 48), nil); err != nil {
		t.Fatal(err)
	}
	// TIFF, big endian: IFD0 with one entry (GPSInfo -> IFD at 26), the
	// GPS IFD with GPSLatitudeRef "N" and a marker string we look for.
	be := binary.BigEndian
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08")
	ifd0 := make([]byte, 18)
	be.PutUint16(ifd0[0:], 1)
	be.PutUint16(ifd0[2:], 0x8825) // GPSInfo
	be.PutUint16(ifd0[4:], 4)      // LONG
	be.PutUint32(ifd0[6:], 1)
	be.PutUint32(ifd0[10:], 26)
	gps := make([]byte, 18)
	be.PutUint16(gps[0:], 1)
	be.PutUint16(gps[2:], 1) // GPSLatitudeRef
	be.PutUint16(gps[4:], 2) // ASCII
	be.PutUint32(gps[6:], 2)
	copy(gps[10:], "N\x00")
	payload := append([]byte("Exif\x00\x00"), tiff...)
	payload = append(payload, ifd0...)
	payload = append(payload, gps...)
	payload = append(payload, []byte("GPS-MARKER-39.9042N-116.4074E")...)
	seg := []byte{0xff, 0xe1, 0, 0}
	be.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	jpg := b.Bytes()
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

// pngHeaderOnly is a PNG whose IHDR claims w×h and which has no pixels: a
// decompression bomb would look like this to a parser that trusts it.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk := func(typ string, data []byte) []byte {
		out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
		out = append(out, typ...)
		out = append(out, data...)
		return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	out := []byte("\x89PNG\r\n\x1a\n")
	out = append(out, chunk("IHDR", ihdr)...)
	return append(out, chunk("IEND", nil)...)
}

// served uploads data and returns the stored avatar as served.
func served(t *testing.T, c *client, inst *servertest.Instance, tok string, data []byte) *response {
	t.Helper()
	u := upload(t, c, tok, data).must(t, 200).str("avatar_url")
	return c.req("GET", strings.TrimPrefix(u, inst.URL), "", nil).must(t, 200)
}

// TestAvatarReencoded: an avatar is decoded, bounded and stored re-encoded,
// which drops EXIF (a phone photo's GPS position) and anything else that
// is not pixels (docs/ARCHITECTURE.md#security).
func TestAvatarReencoded(t *testing.T) {
	inst := servertest.Start(t, servertest.Options{})
	c := newClient(t, inst)
	tok, _ := c.login(inst, "")

	photo := jpegWithGPS(t)
	if !bytes.Contains(photo, []byte("GPS-MARKER")) {
		t.Fatal("test photo has no GPS block")
	}
	got := served(t, c, inst, tok, photo)
	if bytes.Contains(got.Body, []byte("Exif")) || bytes.Contains(got.Body, []byte("GPS-MARKER")) {
		t.Fatal("the stored avatar keeps the photo's EXIF GPS block")
	}
	if got.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("photo stored as %s", got.Header.Get("Content-Type"))
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(got.Body)); err != nil || cfg.Width != 64 || cfg.Height != 48 {
		t.Fatalf("stored photo: %+v %v", cfg, err)
	}

	// A large picture is scaled down to 512 px on its longer side; a PNG
	// stays a PNG.
	big := served(t, c, inst, tok, encodePNG(t, testImage(1000, 800)))
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(big.Body)); err != nil || format != "png" || cfg.Width != 512 || cfg.Height != 410 {
		t.Fatalf("large PNG stored as %s %+v %v", format, cfg, err)
	}
	// WebP is decoded and stored as PNG (Go has no WebP encoder).
	webp, err := os.ReadFile("testdata/avatar.webp")
	if err != nil {
		t.Fatal(err)
	}
	w := served(t, c, inst, tok, webp)
	if _, format, err := image.Decode(bytes.NewReader(w.Body)); err != nil || format != "png" || w.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("WebP stored as %s (%s): %v", format, w.Header.Get("Content-Type"), err)
	}

	// Refused: a PNG signature followed by garbage, a truncated JPEG,
	// dimensions over 4096 (checked before decoding), a zero-size image.
	for name, data := range map[string][]byte{
		"png signature and garbage": append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte("garbage!"), 1000)...),
		"truncated jpeg":            photo[:len(photo)/2],
		"webp signature and junk":   append([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), make([]byte, 100)...),
		"20000x20000 header":        pngHeaderOnly(20000, 20000),
		"5000x1 png":                encodePNG(t, testImage(5000, 1)),
	} {
		if r := upload(t, c, tok, data); r.Status != 400 || r.errCode() != "invalid_request" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}
