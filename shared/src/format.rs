//! Formatting of times and durations for display.

use crate::Millis;

/// `1.2 s`, `3 min 4 s`, `2 h 5 min`.
/// A size in bytes for people: `812 B`, `4.2 KB`, `93.6 MB`.
pub fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1_000.0 {
        format!("{n:.0} B")
    } else if n < 1_000_000.0 {
        format!("{:.1} KB", n / 1e3)
    } else if n < 1_000_000_000.0 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.2} GB", n / 1e9)
    }
}

pub fn duration(ms: Millis) -> String {
    let ms = ms.max(0);
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 3_600_000 {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    } else {
        format!("{} h {} min", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

/// How long ago `at` was, relative to `now`.
pub fn ago(at: Millis, now: Millis) -> String {
    let d = now - at;
    if d < 2_000 {
        "just now".into()
    } else {
        format!("{} ago", duration(d))
    }
}

/// `2026-11-22T11:04:05.123Z`: a Unix-millisecond time in UTC, ISO 8601.
pub fn iso8601(ms: Millis) -> String {
    let (y, m, d, h, mi, sec, milli) = civil(ms);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{milli:03}Z")
}

/// A Unix-millisecond time as UTC calendar parts: (year, month, day, hour, minute, second,
/// millisecond), by Howard Hinnant's days-to-civil algorithm.
pub fn civil(ms: Millis) -> (i64, i64, i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        ms.rem_euclid(1000),
    )
}

/// `text` as one value of a URL's query: everything but letters, digits and `-._~`
/// percent-encoded.
pub fn query_escape(text: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(text, KEEP).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_escape("label:a b\"c&d"), "label%3Aa%20b%22c%26d");
        assert_eq!(query_escape("a-b_c.d~é"), "a-b_c.d~%C3%A9");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(1_500), "1.5 s");
        assert_eq!(duration(184_000), "3 min 4 s");
        assert_eq!(duration(7_500_000), "2 h 5 min");
        assert_eq!(ago(1_000, 1_500), "just now");
    }
}
