package server

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/draw"
	"golang.org/x/image/webp"
)

// Avatar images (docs/ARCHITECTURE.md#security). An upload is trusted for
// nothing: it is decoded, its dimensions bounded before any pixel is
// decoded (a small file can claim a huge picture), scaled down, and stored
// re-encoded, so what we serve is pixels only: no EXIF (a phone photo's GPS
// position), no trailing data, nothing a browser could sniff as another
// type.
const (
	// maxAvatarSide refuses pictures larger than this on either side.
	maxAvatarSide = 4096
	// avatarSide is the longer side an avatar is scaled down to; avatars
	// are shown at 48-96 CSS pixels.
	avatarSide = 512
	// avatarJPEGQuality for photos.
	avatarJPEGQuality = 88
)

// avatarDecodes bounds concurrent decodes: a 4096×4096 picture decodes to
// 64-128 MiB, and two at once are plenty for profile pictures.
var avatarDecodes = make(chan struct{}, 2)

var errBadImage = invalidRequest("file: not a readable PNG, JPEG or WebP image")
var errImageTooLarge = invalidRequest("file: at most 4096×4096 pixels")

// normalizeAvatar decodes data of type ctype (sniffImage's answer) and
// returns the image to store: PNG stays PNG (lossless, keeps transparency),
// JPEG stays JPEG, WebP becomes PNG (Go has no WebP encoder); at most
// avatarSide pixels on the longer side.
func normalizeAvatar(ctx context.Context, ctype string, data []byte) (string, []byte, error) {
	var decodeConfig func([]byte) (image.Config, error)
	var decode func([]byte) (image.Image, error)
	switch ctype {
	case "image/png":
		decodeConfig = func(b []byte) (image.Config, error) { return png.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }
	case "image/jpeg":
		decodeConfig = func(b []byte) (image.Config, error) { return jpeg.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }
	case "image/webp":
		decodeConfig = func(b []byte) (image.Config, error) { return webp.DecodeConfig(bytes.NewReader(b)) }
		decode = func(b []byte) (image.Image, error) { return webp.Decode(bytes.NewReader(b)) }
	default:
		return "", nil, errUnsupportedMedia
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		return "", nil, errBadImage
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return "", nil, errBadImage
	}
	if cfg.Width > maxAvatarSide || cfg.Height > maxAvatarSide {
		return "", nil, errImageTooLarge
	}
	select {
	case avatarDecodes <- struct{}{}:
		defer func() { <-avatarDecodes }()
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	src, err := decode(data)
	if err != nil {
		return "", nil, errBadImage
	}
	dst := scaleToFit(src, avatarSide)
	var out bytes.Buffer
	if ctype == "image/jpeg" {
		err = jpeg.Encode(&out, dst, &jpeg.Options{Quality: avatarJPEGQuality})
	} else {
		ctype = "image/png"
		err = (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, dst)
	}
	if err != nil {
		return "", nil, err
	}
	return ctype, out.Bytes(), nil
}

// scaleToFit returns src drawn into a new NRGBA image at most side pixels
// on its longer side (never enlarged). Drawing always, even at the same
// size, leaves nothing of the upload but its pixels.
func scaleToFit(src image.Image, side int) *image.NRGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > side || h > side {
		if w >= h {
			w, h = side, max(1, (h*side+w/2)/w)
		} else {
			w, h = max(1, (w*side+h/2)/h), side
		}
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
	} else {
		draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	}
	return dst
}
