//! Resource ids derived from registry ids.
//!
//! A resource made from one record takes the record's id (a UUID). A
//! resource made from part of a record (an Observation of one grade of a
//! baseline), or for which the registry keeps no record id (a site), takes a
//! UUID derived from the registry id and what the resource is: FNV-1a (128
//! bits) of `<registry id>/<part>`, marked as a version 8 (custom) UUID
//! (RFC 9562). The same record always gives the same ids, in every export, so
//! references (`Patient/<id>`) are stable, and every id is a UUID, so a
//! transaction Bundle can name each entry `urn:uuid:<id>`.

const FNV_OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const FNV_PRIME: u128 = 0x0000000001000000000000000000013b;

/// The UUID (version 8) derived from `base` (a registry id or site code) and `part`.
pub fn derived_id(base: &str, part: &str) -> String {
    let mut h = FNV_OFFSET;
    for byte in base
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(part.bytes())
    {
        h ^= u128::from(byte);
        h = h.wrapping_mul(FNV_PRIME);
    }
    let mut bytes = h.to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_distinct_version_8_uuids() {
        let base = "0190b3c4-1111-7222-8333-444455556666";
        let a = derived_id(base, "clti");
        assert_eq!(a, derived_id(base, "clti"));
        assert_ne!(a, derived_id(base, "device"));
        assert_ne!(
            a,
            derived_id("0190b3c4-1111-7222-8333-444455556667", "clti")
        );
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert!(
            a.chars()
                .all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
