//! What a task carries besides its title, notes and status: a due date, an assignee, labels
//! and a priority, with the rules every writer checks (the API, the pages, an import).

use serde::{Deserialize, Serialize};

/// How urgent a task is, ordered none < low < medium < high < urgent.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 5] = [
        Priority::None,
        Priority::Low,
        Priority::Medium,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::None => "none",
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Its rank as stored: 0 for none up to 4 for urgent.
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        usize::try_from(rank)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    pub fn label(self) -> &'static str {
        match self {
            Priority::None => "No priority",
            Priority::Low => "Low",
            Priority::Medium => "Medium",
            Priority::High => "High",
            Priority::Urgent => "Urgent",
        }
    }
}

/// A label and its colour (`#rrggbb`; chips write the name in white on it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Label {
    pub name: String,
    pub color: String,
}

/// A form's text for an optional field: trimmed, `None` when nothing is left.
pub fn filled(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Longest label name, in characters.
pub const MAX_LABEL: usize = 40;
/// Most labels on one task.
pub const MAX_LABELS: usize = 20;

/// Why a label name is refused, if it is: 1–40 characters of letters, digits and `-_./`
/// (no spaces or quotes, so `label:name` reads unambiguously in a filter).
pub fn label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("a label needs a name".into());
    }
    if name.chars().count() > MAX_LABEL {
        return Some(format!("label names are at most {MAX_LABEL} characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        return Some(format!(
            "label {name:?}: only letters, digits and - _ . / may appear in a label"
        ));
    }
    None
}

/// A task's labels as given: each valid, no repeats (kept in the order given, first wins),
/// at most [`MAX_LABELS`].
pub fn clean_labels(given: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::with_capacity(given.len());
    for l in given {
        if let Some(p) = label_problem(l) {
            return Err(p);
        }
        if !out.contains(l) {
            out.push(l.clone());
        }
    }
    if out.len() > MAX_LABELS {
        return Err(format!("a task has at most {MAX_LABELS} labels"));
    }
    Ok(out)
}

/// A calendar date `YYYY-MM-DD` (years 1–9999), as days since 1970-01-01.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if y < 1 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

/// The date `days` after 1970-01-01, as `YYYY-MM-DD`.
pub fn format_date(days: i64) -> String {
    let (y, m, d, ..) = crate::format::civil(days.saturating_mul(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Why a due date is refused, if it is.
pub fn due_problem(s: &str) -> Option<String> {
    parse_date(s)
        .is_none()
        .then(|| format!("due date {s:?} is not a date like 2027-03-31"))
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Days from a civil date: the proleptic Gregorian calendar counted in 400-year eras (the
// inverse of `format::civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Today's date in UTC for a time in Unix milliseconds, as days since 1970-01-01.
pub fn day_of(millis: i64) -> i64 {
    millis.div_euclid(86_400_000)
}

/// The colours a new label is given, chosen by its name: each carries white text at a
/// contrast of at least 4.5:1, on a light page and on a dark one alike (the chip is its
/// own background).
pub const LABEL_PALETTE: [&str; 10] = [
    "#b91c1c", "#c2410c", "#a16207", "#15803d", "#0f766e", "#0369a1", "#1d4ed8", "#6d28d9",
    "#a21caf", "#be123c",
];

/// The colour a label named `name` starts with.
pub fn default_label_color(name: &str) -> &'static str {
    // FNV-1a: stable across builds and platforms, unlike the standard hasher.
    let mut h: u32 = 0x811c_9dc5;
    for b in name.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    LABEL_PALETTE[h as usize % LABEL_PALETTE.len()]
}

/// `#rrggbb` as its three channels.
pub fn parse_color(s: &str) -> Option<[u8; 3]> {
    let hex = s.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let ch = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([ch(0)?, ch(2)?, ch(4)?])
}

/// WCAG relative luminance of a colour.
fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG contrast ratio between two colours.
pub fn contrast(a: [u8; 3], b: [u8; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// Why a label colour is refused, if it is: it must be `#rrggbb` and carry white text at
/// 4.5:1 or better, as every chip writes its name in white.
pub fn color_problem(s: &str) -> Option<String> {
    let Some(c) = parse_color(s) else {
        return Some(format!("colour {s:?} is not like #1d4ed8"));
    };
    let ratio = contrast(c, [255, 255, 255]);
    (ratio < 4.5).then(|| {
        format!(
            "colour {s} is too light for white text ({ratio:.1}:1, at least 4.5:1 is needed); \
             pick a darker one"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_reject_what_is_not_a_day() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2024-12-31",
            "9999-12-31",
            "0001-01-01",
        ] {
            assert_eq!(format_date(parse_date(s).unwrap()), s);
        }
        assert_eq!(parse_date("1970-01-02"), Some(1));
        assert_eq!(parse_date("1969-12-31"), Some(-1));
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "24-01-01",
            "2024-1-01",
            "2024/01/01",
            "+024-01-01",
            "0000-01-01",
            "",
            "2024-01-01T00",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(day_of(86_400_000 * 3 + 5), 3);
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn priorities_are_ordered_and_round_trip() {
        assert!(Priority::None < Priority::Low && Priority::High < Priority::Urgent);
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
            assert_eq!(Priority::from_rank(p.rank()), Some(p));
        }
        assert_eq!(Priority::from_rank(5), None);
        assert_eq!(Priority::from_rank(-1), None);
    }

    #[test]
    fn labels_are_checked_and_deduplicated() {
        assert_eq!(
            clean_labels(&["infra".into(), "q3/ops".into(), "infra".into()]).unwrap(),
            ["infra", "q3/ops"]
        );
        for bad in ["", "two words", "quote\"d", "a:b", &"x".repeat(41)] {
            assert!(label_problem(bad).is_some(), "{bad:?}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(clean_labels(&many).is_err());
    }

    #[test]
    fn every_palette_colour_carries_white_text() {
        for c in LABEL_PALETTE {
            assert_eq!(color_problem(c), None, "{c}");
        }
        assert!(
            color_problem("#fde047").is_some(),
            "yellow-300 is too light"
        );
        assert!(color_problem("blue").is_some());
        assert!(color_problem("#12345").is_some());
        assert_eq!(default_label_color("infra"), default_label_color("infra"));
    }
}
