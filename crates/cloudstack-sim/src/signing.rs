//! Server-side request signature verification, reproducing `ApiServer.verifyRequest`.
//!
//! The management server rebuilds the signed string from the parameters *as received*: names
//! are sorted with Java `String.compareTo` (UTF-16 code-unit order, case-sensitive), only the
//! first value of a repeated name counts, names stay unencoded, values are encoded with Java
//! `URLEncoder` (space becomes `+`, then rewritten to `%20`), and the whole string is lower-cased
//! before HMAC-SHA1 with the secret key.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset, format_description::BorrowedFormatItem};

type HmacSha1 = hmac::Hmac<sha1::Sha1>;

/// Encodes a value exactly like Java `URLEncoder.encode(value, "UTF-8")` followed by
/// CloudStack's `replaceAll("\\+", "%20")`.
pub fn java_url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push_str("%20"),
            other => {
                out.push('%');
                out.push_str(&format!("{other:02X}"));
            }
        }
    }
    out
}

/// Builds the lower-cased string the server signs from received parameters.
///
/// `params` is in arrival order; a repeated name keeps its first value, as the servlet's
/// parameter map does.
pub fn string_to_sign(params: &[(String, String)]) -> String {
    let mut unique: Vec<(&str, &str)> = Vec::with_capacity(params.len());
    for (name, value) in params {
        if name.eq_ignore_ascii_case("signature") {
            continue;
        }
        if unique.iter().any(|(seen, _)| *seen == name.as_str()) {
            continue;
        }
        unique.push((name, value));
    }
    // Java compares strings by UTF-16 code units; for ASCII this equals byte order.
    unique.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    let joined = unique
        .iter()
        .map(|(name, value)| format!("{name}={}", java_url_encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    joined.to_lowercase()
}

/// Computes the Base64 HMAC-SHA1 signature of `data` with `secret`.
pub fn hmac_sha1_base64(secret: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length, so construction cannot fail; fall back to an empty
    // signature (which never verifies) rather than panicking.
    match HmacSha1::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(data);
            STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Checks a received Base64 signature against the parameters in constant time.
pub fn verify_signature(secret: &[u8], params: &[(String, String)], signature: &str) -> bool {
    let Ok(received) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = HmacSha1::new_from_slice(secret) else {
        return false;
    };
    mac.update(string_to_sign(params).as_bytes());
    mac.verify_slice(&received).is_ok()
}

const DATE_TIME: &[BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

/// Parses an `expires` value the way current `DateUtil.parseTZDateString` accepts it:
/// `2030-01-01T00:00:00Z`, `+00:00`, `+0000`, optional fractional seconds, and the legacy
/// `yyyy-MM-dd'T'HH:mm:ss'Z'Z` form (`2030-01-01T00:00:00Z+0000`).
pub fn parse_expires(value: &str) -> Option<OffsetDateTime> {
    let value = value.trim();
    let head = value.get(..19)?;
    let local = PrimitiveDateTime::parse(head, DATE_TIME).ok()?;
    let mut rest = &value[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = parse_offset(rest)?;
    Some(local.assume_offset(offset))
}

fn parse_offset(zone: &str) -> Option<UtcOffset> {
    let zone = match zone.strip_prefix('Z') {
        Some("") => return Some(UtcOffset::UTC),
        Some(legacy) => legacy,
        None => zone,
    };
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1i8, &zone[1..]),
        b'-' => (-1i8, &zone[1..]),
        _ => return None,
    };
    let digits: String = match digits.len() {
        4 if digits.bytes().all(|b| b.is_ascii_digit()) => digits.to_owned(),
        5 if digits.as_bytes().get(2) == Some(&b':') => digits.replace(':', ""),
        2 => format!("{digits}00"),
        _ => return None,
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i8 = digits.get(..2)?.parse().ok()?;
    let minutes: i8 = digits.get(2..4)?.parse().ok()?;
    UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vectors {
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        secret: String,
        params: serde_json::Map<String, serde_json::Value>,
        string_to_sign: String,
        signature: String,
    }

    fn load_vectors() -> Vectors {
        let text = include_str!("../tests/fixtures/signing-vectors.json");
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn all_three_signing_vectors_verify() {
        let vectors = load_vectors();
        assert_eq!(vectors.vectors.len(), 3);
        for vector in vectors.vectors {
            let params: Vec<(String, String)> = vector
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            assert_eq!(string_to_sign(&params), vector.string_to_sign);
            assert_eq!(
                hmac_sha1_base64(vector.secret.as_bytes(), vector.string_to_sign.as_bytes()),
                vector.signature
            );
            assert!(verify_signature(
                vector.secret.as_bytes(),
                &params,
                &vector.signature
            ));
            assert!(!verify_signature(b"wrong", &params, &vector.signature));
        }
    }

    #[test]
    fn tampered_value_fails() {
        let vectors = load_vectors();
        let vector = &vectors.vectors[0];
        let mut params: Vec<(String, String)> = vector
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        params.push(("page".into(), "2".into()));
        assert!(!verify_signature(
            vector.secret.as_bytes(),
            &params,
            &vector.signature
        ));
    }

    #[test]
    fn repeated_name_uses_first_value_and_signature_is_ignored() {
        let params = vec![
            ("b".to_owned(), "1".to_owned()),
            ("a".to_owned(), "x y".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("Signature".to_owned(), "zzz".to_owned()),
        ];
        assert_eq!(string_to_sign(&params), "a=x%20y&b=1");
    }

    #[test]
    fn java_encoding_table() {
        assert_eq!(
            java_url_encode("a b~+*/:=,ü"),
            "a%20b%7E%2B*%2F%3A%3D%2C%C3%BC"
        );
    }

    #[test]
    fn expires_formats() {
        for ok in [
            "2030-01-01T00:00:00Z",
            "2030-01-01T00:00:00+00:00",
            "2030-01-01T00:00:00+0000",
            "2030-01-01T05:30:00+0530",
            "2030-01-01T00:00:00.123Z",
            "2030-01-01T00:00:00Z+0000",
        ] {
            let parsed = parse_expires(ok).unwrap_or_else(|| panic!("{ok}"));
            assert_eq!(parsed.unix_timestamp(), 1_893_456_000, "{ok}");
        }
        for bad in [
            "",
            "2030-01-01",
            "2030-01-01T00:00:00",
            "tomorrow",
            "2030-01-01T00:00:00+9",
        ] {
            assert!(parse_expires(bad).is_none(), "{bad}");
        }
    }
}
