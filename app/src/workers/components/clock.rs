//! Times on the workers pages: absolute (UTC) and a clock that ticks once a second after
//! hydration, so "3 s ago" stays true without refetching.

use crate::Millis;
use leptos::prelude::*;

/// `2026-11-22 11:04:05` (UTC).
pub fn utc(ms: Millis) -> String {
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
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// A clock starting at `start` (the server's time, so the first render matches the
/// server's) and advancing every second in the browser.
pub fn ticking(start: Millis) -> ReadSignal<Millis> {
    let (now, _set_now) = signal(start);
    #[cfg(feature = "hydrate")]
    {
        // Only a real clock difference is corrected, not the time the page took to load.
        let skew = crate::now_millis() - start;
        let skew = if skew.abs() > 5_000 { skew } else { 0 };
        set_interval(
            move || _set_now.set(crate::now_millis() - skew),
            std::time::Duration::from_secs(1),
        );
    }
    now
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(1_726_230_896_789), "2024-09-13 12:34:56");
    }
}
