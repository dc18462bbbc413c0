//! Request signing exactly as the CloudStack management server verifies it.
//!
//! The server (`ApiServer.verifyRequest`) sorts the parameter names as received, encodes each
//! value like Java's `URLEncoder` (with `+` rewritten to `%20`), joins `name=value` pairs with
//! `&`, lower-cases the whole string, and compares the standard-Base64 HMAC-SHA1 of that string
//! under the secret key. Every function here is pure so that it can be tested against the
//! published vectors and a property test.

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use time::OffsetDateTime;

/// Characters Java's `URLEncoder` leaves alone: `A-Z a-z 0-9 . - * _`.
///
/// `~` stays in the set on purpose: the server encodes it as `%7E`, so a client that keeps it
/// literal (as Go's `QueryEscape` does) signs a different string.
const JAVA_URL_ENCODER_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'*')
    .remove(b'_');

/// Encodes one parameter value like Java's `URLEncoder.encode(value, "UTF-8")` followed by
/// CloudStack's `+` → `%20` rewrite.
pub fn encode_value(value: &str) -> String {
    utf8_percent_encode(value, JAVA_URL_ENCODER_SET).to_string()
}

/// Builds the canonical string to sign from parameters as they will be sent.
///
/// Names are sorted byte-wise (Java `String.compareTo` on the names as received, which equals
/// byte order for ASCII names), are not encoded, and a parameter called `signature` (in any
/// case) is skipped. The result is lower-cased, as the server lower-cases before hashing.
pub fn string_to_sign<'a, I>(params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("signature"))
        .collect();
    // Java compares UTF-16 code units; for the ASCII names CloudStack uses this is byte order.
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let joined = pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", encode_value(value)))
        .collect::<Vec<_>>()
        .join("&");
    joined.to_lowercase()
}

/// Computes the standard-Base64 HMAC-SHA1 of `canonical` under `secret_key`.
pub fn hmac_sha1_base64(secret_key: &str, canonical: &str) -> String {
    // HMAC accepts keys of any length, so this constructor cannot fail; the fallback keeps the
    // function total without a panic path.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes()) else {
        return String::new();
    };
    mac.update(canonical.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Signs a full parameter set: canonical string, then HMAC-SHA1, then Base64.
pub fn sign<'a, I>(params: I, secret_key: &str) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    hmac_sha1_base64(secret_key, &string_to_sign(params))
}

/// Formats an `expires` value in the `yyyy-MM-dd'T'HH:mm:ssZ` form (`+0000`), which old and
/// new servers both accept.
pub fn format_expires(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_java_url_encoder() {
        assert_eq!(encode_value("a b"), "a%20b");
        assert_eq!(encode_value("~"), "%7E");
        assert_eq!(encode_value("*-._"), "*-._");
        assert_eq!(encode_value("1+2=3"), "1%2B2%3D3");
        assert_eq!(encode_value("ü"), "%C3%BC");
        assert_eq!(encode_value("/:,&"), "%2F%3A%2C%26");
    }

    #[test]
    fn skips_signature_parameter_in_any_case() {
        let params = [("command", "x"), ("Signature", "abc"), ("apikey", "k")];
        assert_eq!(string_to_sign(params), "apikey=k&command=x");
    }

    #[test]
    fn formats_expires_with_numeric_utc_offset() {
        let at = time::macros::datetime!(2030-01-02 03:04:05 +02:00);
        assert_eq!(format_expires(at), "2030-01-02T01:04:05+0000");
    }
}
