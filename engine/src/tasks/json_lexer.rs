//! The byte reader under the tree-file parser (`import.rs`): JSON tokens one at a time,
//! with one byte of look-ahead and the byte offset, so memory stays bounded whatever the
//! size of the file.

use super::model::MAX_NOTES;
use std::io::BufRead;

/// Deepest nesting of a value under an unknown key.
const MAX_SKIPPED_DEPTH: usize = 100_000;
/// Longest string the reader holds, in bytes (anything longer is refused early).
const MAX_STRING: usize = 4 * MAX_NOTES + 16;

/// The byte reader under the parser: one byte of look-ahead and the offset.
pub(super) struct Lexer<R> {
    pub(super) r: R,
    pub(super) offset: u64,
}

impl<R: BufRead> Lexer<R> {
    pub(super) fn peek(&mut self) -> Result<Option<u8>, String> {
        let buf = self
            .r
            .fill_buf()
            .map_err(|e| format!("cannot read the file: {e}"))?;
        Ok(buf.first().copied())
    }

    pub(super) fn bump(&mut self) {
        self.r.consume(1);
        self.offset += 1;
    }

    pub(super) fn next(&mut self) -> Result<Option<u8>, String> {
        let b = self.peek()?;
        if b.is_some() {
            self.bump();
        }
        Ok(b)
    }

    /// The next byte that is not white space, not consumed.
    pub(super) fn peek_token(&mut self) -> Result<Option<u8>, String> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\n' | b'\r' | b'\t') => self.bump(),
                other => return Ok(other),
            }
        }
    }

    pub(super) fn expect(&mut self, want: u8) -> Result<(), String> {
        match self.peek_token()? {
            Some(b) if b == want => {
                self.bump();
                Ok(())
            }
            Some(b) => Err(format!(
                "expected '{}' but found {}",
                want as char,
                describe(b)
            )),
            None => Err(format!("expected '{}' but the file ended", want as char)),
        }
    }

    pub(super) fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        for &w in word {
            if self.next()? != Some(w) {
                return Err(format!(
                    "invalid literal (expected {})",
                    String::from_utf8_lossy(word)
                ));
            }
        }
        Ok(())
    }

    pub(super) fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let b = self.next()?.ok_or("the file ended inside an escape")?;
            let d = (b as char)
                .to_digit(16)
                .ok_or_else(|| format!("invalid \\u escape digit {}", describe(b)))?;
            v = v * 16 + d;
        }
        Ok(v)
    }

    /// A string, after white space; its opening quote is next.
    pub(super) fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            // Copy plain bytes a buffer at a time.
            let buf = self
                .r
                .fill_buf()
                .map_err(|e| format!("cannot read the file: {e}"))?;
            if buf.is_empty() {
                return Err("the file ended inside a string".into());
            }
            let plain = buf
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .unwrap_or(buf.len());
            out.extend_from_slice(&buf[..plain]);
            let stop = buf.get(plain).copied();
            self.r.consume(plain);
            self.offset += plain as u64;
            if out.len() > MAX_STRING {
                return Err(format!("string longer than {MAX_STRING} bytes"));
            }
            let Some(b) = stop else { continue };
            self.bump();
            match b {
                b'"' => break,
                b'\\' => {
                    let e = self.next()?.ok_or("the file ended inside an escape")?;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.next()? != Some(b'\\') || self.next()? != Some(b'u') {
                                    return Err("unpaired surrogate in \\u escape".into());
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err("unpaired surrogate in \\u escape".into());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or("invalid \\u escape")?
                        }
                        other => return Err(format!("invalid escape \\{}", other as char)),
                    };
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                _ => return Err("control character inside a string".into()),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not valid UTF-8".to_string())
    }

    /// A number's text, after white space.
    pub(super) fn number(&mut self) -> Result<String, String> {
        self.peek_token()?;
        let mut s = String::new();
        while let Some(b) = self.peek()? {
            if b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E') {
                if s.len() > 40 {
                    return Err("number too long".into());
                }
                s.push(b as char);
                self.bump();
            } else {
                break;
            }
        }
        if !json_number(&s) {
            return Err(if s.is_empty() {
                "expected a number".into()
            } else {
                format!("invalid number {s}")
            });
        }
        Ok(s)
    }

    /// Skips one value of any shape, checking its syntax, with an explicit stack of open
    /// containers instead of recursion.
    pub(super) fn skip_value(&mut self) -> Result<(), String> {
        // `true` for an object, `false` for a list.
        let mut open: Vec<bool> = Vec::new();
        loop {
            match self.peek_token()?.ok_or("the file ended inside a value")? {
                b'{' => {
                    self.bump();
                    if self.peek_token()? == Some(b'}') {
                        self.bump();
                    } else {
                        open.push(true);
                        self.string()?;
                        self.expect(b':')?;
                        if open.len() > MAX_SKIPPED_DEPTH {
                            return Err("unknown value nested too deeply".into());
                        }
                        continue;
                    }
                }
                b'[' => {
                    self.bump();
                    if self.peek_token()? == Some(b']') {
                        self.bump();
                    } else {
                        open.push(false);
                        if open.len() > MAX_SKIPPED_DEPTH {
                            return Err("unknown value nested too deeply".into());
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.string()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                b => return Err(format!("unexpected {}", describe(b))),
            }
            // A value ended: close what it ends, or go on to the next member.
            loop {
                let Some(&object) = open.last() else {
                    return Ok(());
                };
                match self.peek_token()? {
                    Some(b',') => {
                        self.bump();
                        if object {
                            self.string()?;
                            self.expect(b':')?;
                        }
                        break;
                    }
                    Some(b'}') if object => {
                        self.bump();
                        open.pop();
                    }
                    Some(b']') if !object => {
                        self.bump();
                        open.pop();
                    }
                    Some(b) => {
                        return Err(format!(
                            "expected ',' or '{}' but found {}",
                            if object { '}' } else { ']' },
                            describe(b)
                        ));
                    }
                    None => return Err("the file ended inside a value".into()),
                }
            }
        }
    }

    pub(super) fn bool(&mut self) -> Result<bool, String> {
        match self.peek_token()? {
            Some(b't') => self.literal(b"true").map(|_| true),
            Some(b'f') => self.literal(b"false").map(|_| false),
            _ => Err("expected true or false".into()),
        }
    }

    pub(super) fn is_null(&mut self) -> Result<bool, String> {
        if self.peek_token()? == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    pub(super) fn integer(&mut self) -> Result<i64, String> {
        let n = self.number()?;
        n.parse::<i64>()
            .map_err(|_| format!("expected a whole number, found {n}"))
    }
}

/// Whether `s` is a number as JSON writes them: `-? (0 | [1-9][0-9]*) (. [0-9]+)?
/// ([eE] [+-]? [0-9]+)?`.
fn json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i > start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == b.len()
}

pub(super) fn describe(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_json() {
        for good in ["0", "-1", "12.5", "1e9", "-0.5E-3"] {
            assert!(json_number(good), "{good}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1-2", "--1"] {
            assert!(!json_number(bad), "{bad}");
        }
    }
}
