//! Times on the workers pages: absolute (UTC) and a clock that ticks once a second after
//! hydration, so "3 s ago" stays true without refetching.

use crate::Millis;
use leptos::prelude::*;

/// `2026-11-22 11:04:05` (UTC).
pub fn utc(ms: Millis) -> String {
    let (y, m, d, h, mi, sec, _) = crate::ui::format::civil(ms);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{sec:02}")
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
        // Stopped when the page that shows it goes away.
        if let Ok(handle) = set_interval_with_handle(
            move || {
                _set_now.try_set(crate::now_millis() - skew);
            },
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || handle.clear());
        }
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
