//! Rules shared by every free-text field.

/// The limits for one text field.
#[derive(Debug, Clone, Copy)]
pub struct TextRule {
    /// Maximum length in characters, as Django counts `max_length`.
    pub max_chars: usize,
    pub required: bool,
    /// Whether line breaks and tabs are allowed (a biography, not a name).
    pub multiline: bool,
}

impl TextRule {
    pub const fn line(max_chars: usize) -> Self {
        TextRule {
            max_chars,
            required: false,
            multiline: false,
        }
    }

    pub const fn required(self) -> Self {
        TextRule {
            required: true,
            ..self
        }
    }

    pub const fn multiline(self) -> Self {
        TextRule {
            multiline: true,
            ..self
        }
    }
}

/// Trims `value` and checks it against `rule`; returns the trimmed text or the message to show.
pub fn check_text(value: &str, rule: TextRule) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return if rule.required {
            Err("This field is required.".into())
        } else {
            Ok(String::new())
        };
    }

    let length = value.chars().count();
    if length > rule.max_chars {
        return Err(format!(
            "Use at most {} characters (it has {length}).",
            rule.max_chars
        ));
    }

    // The form decoder turns bytes that are not UTF-8 into U+FFFD. Browsers send UTF-8, so the
    // character means a damaged request, and storing it would lose what was sent.
    if value.contains(char::REPLACEMENT_CHARACTER) {
        return Err(
            "This field contains bytes that are not valid UTF-8 text; type it again.".into(),
        );
    }

    if let Some(c) = value.chars().find(|&c| is_forbidden(c, rule.multiline)) {
        return Err(format!(
            "This field contains an invisible or control character (U+{:04X}); remove it.",
            c as u32
        ));
    }

    // Browsers send line breaks as CRLF; store one form.
    Ok(value.replace("\r\n", "\n"))
}

/// Control characters, and the invisible characters used to disguise text: zero-width spaces and
/// joiners, bidirectional overrides, the byte-order mark, the soft hyphen, and the tag characters.
/// Also the blank characters that Unicode classes as letters or symbols (the Hangul fillers, the
/// blank Braille pattern), because usernames allow letters and "ada" followed by U+3164 reads
/// as "ada".
fn is_forbidden(c: char, multiline: bool) -> bool {
    if multiline && matches!(c, '\n' | '\r' | '\t') {
        return false;
    }
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}'
            | '\u{2800}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_field_rejects_blank() {
        assert!(check_text("   ", TextRule::line(10).required()).is_err());
        assert_eq!(check_text("  ", TextRule::line(10)), Ok(String::new()));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(check_text("éééé", TextRule::line(4)).is_ok());
        assert!(check_text("ééééé", TextRule::line(4)).is_err());
    }

    #[test]
    fn control_and_invisible_characters_are_rejected() {
        for bad in [
            "a\u{0}b",
            "a\u{7}b",
            "a\u{200B}b",
            "a\u{202E}b",
            "a\u{FEFF}b",
            "a\nb",
            "a\u{3164}",
            "a\u{2800}b",
            "a\u{E0041}",
        ] {
            assert!(
                check_text(bad, TextRule::line(50)).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn replacement_character_is_rejected() {
        let result = check_text("a\u{FFFD}b", TextRule::line(50));

        assert!(result.is_err_and(|message| message.contains("UTF-8")));
    }

    #[test]
    fn multiline_keeps_line_breaks() {
        let text = check_text("one\r\ntwo", TextRule::line(50).multiline());

        assert_eq!(text, Ok("one\ntwo".to_owned()));
    }
}
