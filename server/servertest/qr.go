package servertest

import (
	"bytes"
	"image"
	_ "image/jpeg" // WeChat's codes may be JPEG
	_ "image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// DecodeQR reads the QR code in an image (PNG or JPEG) as a phone camera
// would, with a real decoder (gozxing, a port of ZXing), and returns its
// text.
func DecodeQR(tb testing.TB, img []byte) string {
	tb.Helper()
	m, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		tb.Fatalf("not an image: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(m)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		// gozxing's finder mis-samples about 1 in 200 of our valid link
		// codes (zbarimg reads them all); read as an unskewed code, which
		// ours are, every one of them decodes.
		var pureErr error
		pure := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}
		if res, pureErr = qrcode.NewQRCodeReader().Decode(bmp, pure); pureErr != nil {
			tb.Fatalf("no QR code: %v; read as unskewed: %v", err, pureErr)
		}
	}
	return res.GetText()
}
