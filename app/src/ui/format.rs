//! Formatting of times and durations for display.

use crate::Millis;

/// `1.2 s`, `3 min 4 s`, `2 h 5 min`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(1_500), "1.5 s");
        assert_eq!(duration(184_000), "3 min 4 s");
        assert_eq!(duration(7_500_000), "2 h 5 min");
        assert_eq!(ago(1_000, 1_500), "just now");
    }
}
