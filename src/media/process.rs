//! Turning an uploaded file into images we are willing to serve.
//!
//! An upload is never served as it came: it is sniffed (the declared type
//! is not trusted), its dimensions read from the header and refused before
//! decoding when they are too many pixels (a decompression bomb costs
//! nothing but the header read), decoded under allocation limits, turned
//! upright by its EXIF orientation, scaled down to at most
//! [`MAX_STORED_PIXELS`], and encoded anew — which leaves EXIF, GPS, ICC and
//! comment blocks behind. JPEG stays JPEG; PNG, WebP and GIF (first frame)
//! become PNG, which keeps transparency. A thumbnail and a blurhash are
//! made from the same pixels.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, imageops::FilterType};

/// Anything larger is refused before decoding: 50 megapixels.
pub const MAX_DECODED_PIXELS: u64 = 50_000_000;
/// Stored images are scaled down to at most this many pixels (3840×2160,
/// what Mastodon keeps of an image).
pub const MAX_STORED_PIXELS: u64 = 3840 * 2160;
/// The longest side of a thumbnail.
pub const THUMBNAIL_SIDE: u32 = 640;

/// An image ready to store: the re-encoded bytes, a thumbnail, and what
/// readers are told about it.
pub struct Processed {
    pub bytes: Vec<u8>,
    pub thumbnail: Vec<u8>,
    /// `image/jpeg` or `image/png`.
    pub mime_type: &'static str,
    /// `jpg` or `png`.
    pub extension: &'static str,
    pub width: u32,
    pub height: u32,
    pub blurhash: String,
}

/// Why an upload is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Not one of the image types we take (SVG, HTML, PDF, anything else).
    #[error("{0}")]
    NotAnImage(String),
    /// An image we take, but broken, too large in pixels, or a bomb.
    #[error("{0}")]
    Unusable(String),
}

/// The formats we accept, by what the bytes say they are.
fn accepted(format: ImageFormat) -> bool {
    matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif
    )
}

/// Processes an uploaded file. CPU-bound: call it off the async threads.
pub fn process(bytes: &[u8]) -> Result<Processed, Refused> {
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| accepted(*f))
        .ok_or_else(|| {
            Refused::NotAnImage(
                "not a JPEG, PNG, WebP or GIF image (SVG and other formats are not accepted)"
                    .into(),
            )
        })?;
    let reader = || {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(65_535);
        limits.max_image_height = Some(65_535);
        // Room for the decoded pixels (RGBA, 16 bits a channel at worst)
        // and the decoder's own buffers, not more.
        limits.max_alloc = Some(MAX_DECODED_PIXELS * 8 + 64 * 1024 * 1024);
        reader.limits(limits);
        reader
    };
    let (width, height) = reader()
        .into_dimensions()
        .map_err(|err| Refused::Unusable(format!("unreadable {format:?} image: {err}")))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 || pixels > MAX_DECODED_PIXELS {
        return Err(Refused::Unusable(format!(
            "{width}×{height} pixels; at most {} megapixels are accepted",
            MAX_DECODED_PIXELS / 1_000_000
        )));
    }
    let mut decoder = reader()
        .into_decoder()
        .map_err(|err| Refused::Unusable(format!("unreadable {format:?} image: {err}")))?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|err| Refused::Unusable(format!("unreadable {format:?} image: {err}")))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    let image = fit(image, MAX_STORED_PIXELS);
    let (mime_type, extension, output) = match format {
        ImageFormat::Jpeg => ("image/jpeg", "jpg", ImageFormat::Jpeg),
        _ => ("image/png", "png", ImageFormat::Png),
    };
    let bytes = encode(&image, output)?;
    // `thumbnail` scales up as well as down: only shrink.
    let thumbnail = if image.width().max(image.height()) > THUMBNAIL_SIDE {
        encode(&image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE), output)?
    } else {
        bytes.clone()
    };
    let tiny = image.thumbnail(32, 32).to_rgba8();
    let blurhash = blurhash::encode(4, 3, tiny.width(), tiny.height(), tiny.as_raw())
        .map_err(|err| Refused::Unusable(format!("blurhash: {err}")))?;
    Ok(Processed {
        bytes,
        thumbnail,
        mime_type,
        extension,
        width: image.width(),
        height: image.height(),
        blurhash,
    })
}

/// `image` scaled down (never up) to at most `max_pixels`.
fn fit(image: DynamicImage, max_pixels: u64) -> DynamicImage {
    let pixels = u64::from(image.width()) * u64::from(image.height());
    if pixels <= max_pixels {
        return image;
    }
    let scale = (max_pixels as f64 / pixels as f64).sqrt();
    let width = ((f64::from(image.width()) * scale).floor() as u32).max(1);
    let height = ((f64::from(image.height()) * scale).floor() as u32).max(1);
    image.resize(width, height, FilterType::Lanczos3)
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, Refused> {
    let mut out = Cursor::new(Vec::new());
    let result = match format {
        // JPEG has no alpha: flatten first.
        ImageFormat::Jpeg => {
            let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
            rgb.write_with_encoder(encoder)
        }
        _ => image.write_to(&mut out, format),
    };
    result.map_err(|err| Refused::Unusable(format!("could not encode the image: {err}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 255])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_png_is_reencoded_with_its_dimensions_and_a_blurhash() {
        let processed = process(&png(300, 200)).unwrap();
        assert_eq!((processed.width, processed.height), (300, 200));
        assert_eq!(processed.mime_type, "image/png");
        // 4×3 components: size, maximum, DC (4) and 11 AC values (2 each).
        assert_eq!(processed.blurhash.len(), 28);
        let thumb = image::load_from_memory(&processed.thumbnail).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (300, 200));
    }

    #[test]
    fn large_images_are_scaled_down_and_thumbnailed() {
        let processed = process(&png(5000, 2000)).unwrap();
        assert!(u64::from(processed.width) * u64::from(processed.height) <= MAX_STORED_PIXELS);
        assert_eq!(processed.width / 5, processed.height / 2);
        let thumb = image::load_from_memory(&processed.thumbnail).unwrap();
        assert_eq!(thumb.width(), THUMBNAIL_SIDE);
    }

    #[test]
    fn what_is_not_an_accepted_image_is_refused() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert!(matches!(process(svg), Err(Refused::NotAnImage(_))));
        assert!(matches!(
            process(b"<!doctype html><p>hi"),
            Err(Refused::NotAnImage(_))
        ));
        let mut truncated = png(50, 50);
        truncated.truncate(60);
        assert!(matches!(process(&truncated), Err(Refused::Unusable(_))));
    }
}
