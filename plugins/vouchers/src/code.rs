//! Voucher codes: how they look, how they are made and how a typed or scanned code is
//! recognised.
//!
//! A code has a **canonical form** — upper case, no separators — which is what is hashed
//! (see [`crate::identity`]); the printed form adds the separators and the configured case.
//! Random characters come from the operating system's CSPRNG (`getrandom`), drawn without
//! bias by rejection sampling.

use crate::error::ConfigError;

/// The default alphabet: upper-case letters and digits without the look-alikes 0/O and
/// 1/I/L. 31 characters, 4.95 bits each.
pub const DEFAULT_ALPHABET: &str = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Characters of which an alphabet may hold at most one, because cashiers and customers
/// mistake them for each other.
const LOOK_ALIKES: [&str; 2] = ["0O", "1IL"];

/// The least entropy an alphanumeric template must have.
pub const MIN_TEMPLATE_BITS: f64 = 64.0;

/// Letter case of printed template codes (recognition ignores case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `ABCD-…`.
    Upper,
    /// `abcd-…`.
    Lower,
}

/// How a programme's codes look.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeFormat {
    /// Groups of random characters from an alphabet, joined by a separator, optionally
    /// after a fixed prefix group: `ABCD-EFGH-JKMN-PQRS`, `GV-ABCD-…`.
    Template {
        /// A fixed first group (canonical: upper case), may be empty.
        prefix: String,
        /// Lengths of the random groups.
        groups: Vec<usize>,
        /// Printed between groups.
        separator: String,
        /// The characters drawn (upper case, unique).
        alphabet: Vec<char>,
        /// Printed case.
        case: Case,
    },
    /// 13 digits: the prefix, random digits, the EAN-13 check digit.
    Ean13 {
        /// Leading digits, e.g. `044`.
        prefix: String,
    },
}

/// Reads one random byte from the OS CSPRNG at a time into `out`.
fn random_bytes(out: &mut [u8]) -> Result<(), String> {
    getrandom::fill(out).map_err(|e| format!("the system's random source failed: {e}"))
}

/// `count` uniform indexes below `n` (2 ≤ n ≤ 256), without modulo bias.
fn random_indexes(n: usize, count: usize) -> Result<Vec<usize>, String> {
    let limit = 256 - 256 % n; // accept bytes below the largest multiple of n
    let mut picked = Vec::with_capacity(count);
    let mut buffer = [0u8; 64];
    while picked.len() < count {
        random_bytes(&mut buffer)?;
        for &b in &buffer {
            if (b as usize) < limit && picked.len() < count {
                picked.push(b as usize % n);
            }
        }
    }
    Ok(picked)
}

/// The EAN-13 check digit of the first 12 digits.
pub fn ean13_check_digit(first_twelve: &[u8]) -> u8 {
    let sum: u32 = first_twelve
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether `code` is 13 digits with a correct check digit.
pub fn is_valid_ean13(code: &str) -> bool {
    let digits: Vec<u8> = code.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    digits.len() == 13
        && digits.iter().all(|d| *d <= 9)
        && ean13_check_digit(&digits[..12]) == digits[12]
}

/// The canonical form of what a cashier typed or scanned: trimmed, upper case, without
/// spaces, hyphens, dots, slashes or underscores. `None` for anything that cannot be a
/// code of ours (empty, non-ASCII-alphanumeric, absurdly long).
pub fn canonical(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '/' | '_' | '\t'))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (!code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(code)
}

impl CodeFormat {
    /// Builds a template format, refusing what would print ambiguous or guessable codes.
    /// `key` is the configuration path for the errors.
    pub fn template(
        key: &str,
        prefix: &str,
        groups: Vec<usize>,
        separator: &str,
        alphabet: &str,
        case: Case,
    ) -> Result<Self, ConfigError> {
        let mut chars: Vec<char> = Vec::new();
        for c in alphabet.chars() {
            let c = c.to_ascii_uppercase();
            if !c.is_ascii_alphanumeric() {
                return Err(ConfigError::invalid(
                    format!("{key}.alphabet"),
                    format!("{c:?} is not a letter or digit"),
                ));
            }
            if chars.contains(&c) {
                return Err(ConfigError::invalid(
                    format!("{key}.alphabet"),
                    format!("{c:?} appears twice (codes are read without regard to case)"),
                ));
            }
            chars.push(c);
        }
        for group in LOOK_ALIKES {
            let found: String = group.chars().filter(|c| chars.contains(c)).collect();
            if found.len() > 1 {
                return Err(ConfigError::invalid(
                    format!("{key}.alphabet"),
                    format!("holds the look-alike characters {found:?}: keep at most one of them"),
                ));
            }
        }
        if chars.len() < 10 {
            return Err(ConfigError::invalid(
                format!("{key}.alphabet"),
                format!("{} characters: at least 10 are needed", chars.len()),
            ));
        }
        if groups.is_empty() || groups.iter().any(|g| *g == 0 || *g > 16) {
            return Err(ConfigError::invalid(
                format!("{key}.groups"),
                "give one or more group lengths, each 1 to 16",
            ));
        }
        if separator.chars().count() > 1
            || separator
                .chars()
                .any(|c| c.is_ascii_alphanumeric() || !c.is_ascii())
        {
            return Err(ConfigError::invalid(
                format!("{key}.separator"),
                format!("{separator:?}: one ASCII character that is no letter or digit, or \"\""),
            ));
        }
        if separator
            .chars()
            .any(|c| !matches!(c, '-' | ' ' | '.' | '/' | '_'))
        {
            return Err(ConfigError::invalid(
                format!("{key}.separator"),
                format!("{separator:?}: one of \"-\", \" \", \".\", \"/\", \"_\" or \"\""),
            ));
        }
        let prefix = prefix.to_ascii_uppercase();
        if !prefix.bytes().all(|b| b.is_ascii_alphanumeric()) || prefix.len() > 8 {
            return Err(ConfigError::invalid(
                format!("{key}.prefix"),
                format!("{prefix:?}: up to 8 letters or digits"),
            ));
        }
        let format = CodeFormat::Template {
            prefix,
            groups,
            separator: separator.to_string(),
            alphabet: chars,
            case,
        };
        let bits = format.entropy_bits();
        if bits < MIN_TEMPLATE_BITS {
            return Err(ConfigError::invalid(
                format!("{key}.groups"),
                format!(
                    "the codes would have {bits:.1} bits of entropy, at least {MIN_TEMPLATE_BITS} are needed: add characters or groups"
                ),
            ));
        }
        Ok(format)
    }

    /// Builds an EAN-13 format with `prefix` (1 to 6 digits).
    pub fn ean13(key: &str, prefix: &str) -> Result<Self, ConfigError> {
        if prefix.is_empty() || prefix.len() > 6 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::invalid(
                format!("{key}.prefix"),
                format!("{prefix:?}: an EAN-13 prefix is 1 to 6 digits, e.g. \"044\""),
            ));
        }
        Ok(CodeFormat::Ean13 {
            prefix: prefix.to_string(),
        })
    }

    /// Bits of entropy of a generated code: random characters × log2(alphabet).
    pub fn entropy_bits(&self) -> f64 {
        match self {
            CodeFormat::Template {
                groups, alphabet, ..
            } => groups.iter().sum::<usize>() as f64 * (alphabet.len() as f64).log2(),
            CodeFormat::Ean13 { prefix } => (12 - prefix.len()) as f64 * 10f64.log2(),
        }
    }

    /// A new random code in canonical form.
    pub fn generate(&self) -> Result<String, String> {
        match self {
            CodeFormat::Template {
                prefix,
                groups,
                alphabet,
                ..
            } => {
                let count = groups.iter().sum();
                let mut code = prefix.clone();
                code.extend(
                    random_indexes(alphabet.len(), count)?
                        .into_iter()
                        .map(|i| alphabet[i]),
                );
                Ok(code)
            }
            CodeFormat::Ean13 { prefix } => {
                let mut digits: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
                digits.extend(
                    random_indexes(10, 12 - prefix.len())?
                        .into_iter()
                        .map(|i| i as u8),
                );
                digits.push(ean13_check_digit(&digits));
                Ok(digits.iter().map(|d| char::from(b'0' + d)).collect())
            }
        }
    }

    /// Whether a canonical code has this format's shape.
    pub fn matches(&self, code: &str) -> bool {
        match self {
            CodeFormat::Template {
                prefix,
                groups,
                alphabet,
                ..
            } => {
                code.len() == prefix.len() + groups.iter().sum::<usize>()
                    && code.starts_with(prefix.as_str())
                    && code[prefix.len()..].chars().all(|c| alphabet.contains(&c))
            }
            CodeFormat::Ean13 { prefix } => {
                code.starts_with(prefix.as_str()) && is_valid_ean13(code)
            }
        }
    }

    /// The printed form of a canonical code of this format.
    pub fn display(&self, code: &str) -> String {
        match self {
            CodeFormat::Template {
                prefix,
                groups,
                separator,
                case,
                ..
            } if self.matches(code) => {
                let mut parts: Vec<&str> = Vec::new();
                if !prefix.is_empty() {
                    parts.push(&code[..prefix.len()]);
                }
                let mut at = prefix.len();
                for g in groups {
                    parts.push(&code[at..at + g]);
                    at += g;
                }
                let joined = parts.join(separator);
                match case {
                    Case::Upper => joined,
                    Case::Lower => joined.to_ascii_lowercase(),
                }
            }
            _ => code.to_string(),
        }
    }
}

/// The last four characters of a code, what receipts and the database keep of it.
pub fn last_four(canonical: &str) -> String {
    let start = canonical.len().saturating_sub(4);
    canonical[start..].to_string()
}

/// A code as receipts show it: `••••5678`.
pub fn masked(canonical: &str) -> String {
    format!("••••{}", last_four(canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sixteen() -> CodeFormat {
        CodeFormat::template(
            "c",
            "",
            vec![4, 4, 4, 4],
            "-",
            DEFAULT_ALPHABET,
            Case::Upper,
        )
        .unwrap()
    }

    #[test]
    fn a_template_code_is_four_groups_from_the_alphabet_without_look_alikes() {
        let format = sixteen();
        let code = format.generate().unwrap();
        assert_eq!(code.len(), 16);
        assert!(format.matches(&code));
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
        let shown = format.display(&code);
        assert_eq!(shown.len(), 19);
        assert_eq!(shown.matches('-').count(), 3, "{shown}");
        assert_eq!(
            canonical(&shown.to_lowercase()).as_deref(),
            Some(code.as_str())
        );
        assert_eq!(
            canonical(&format!(" {} ", shown.replace('-', " "))).as_deref(),
            Some(code.as_str())
        );
        // 16 × log2(31) = 79.3 bits.
        assert!((format.entropy_bits() - 79.27).abs() < 0.01);
    }

    #[test]
    fn codes_do_not_repeat() {
        let format = sixteen();
        let codes: std::collections::BTreeSet<String> =
            (0..2000).map(|_| format.generate().unwrap()).collect();
        assert_eq!(codes.len(), 2000);
    }

    #[test]
    fn every_character_of_the_alphabet_is_drawn() {
        let format = sixteen();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.extend(format.generate().unwrap().chars());
        }
        assert_eq!(seen.len(), DEFAULT_ALPHABET.len());
    }

    #[test]
    fn a_lower_case_template_with_a_prefix_prints_lower_and_reads_any_case() {
        let format =
            CodeFormat::template("c", "gv", vec![5, 5, 4], " ", DEFAULT_ALPHABET, Case::Lower)
                .unwrap();
        let code = format.generate().unwrap();
        assert!(code.starts_with("GV"));
        let shown = format.display(&code);
        assert!(shown.starts_with("gv "), "{shown}");
        assert_eq!(canonical(&shown.to_uppercase()).unwrap(), code);
        assert!(format.matches(&canonical(&shown).unwrap()));
    }

    #[test]
    fn a_template_under_64_bits_is_refused_naming_the_key() {
        let e = CodeFormat::template(
            "programmes[0].code",
            "",
            vec![4, 4, 4],
            "-",
            DEFAULT_ALPHABET,
            Case::Upper,
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("programmes[0].code.groups"), "{text}");
        assert!(text.contains("59.5 bits"), "{text}");
    }

    #[test]
    fn bad_alphabets_and_separators_are_refused() {
        let t = |alphabet: &str, sep: &str| {
            CodeFormat::template("c", "", vec![8, 8, 8], sep, alphabet, Case::Upper)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert!(
            t("ABCDEFGHJKMNPQRSTUVWXYZ23456789O0", "-")
                .unwrap_err()
                .contains("look-alike")
        );
        assert!(t("ABCDEFGHIJKLMN", "-").unwrap_err().contains("\"IL\""));
        assert!(t("ABCDEFGHJKa", "-").unwrap_err().contains("twice"));
        assert!(t("ABCDEFGHJK€", "-").unwrap_err().contains("not a letter"));
        assert!(t("ABC", "-").unwrap_err().contains("at least 10"));
        assert!(t(DEFAULT_ALPHABET, "X").unwrap_err().contains("separator"));
        assert!(t(DEFAULT_ALPHABET, "--").unwrap_err().contains("separator"));
        assert!(t(DEFAULT_ALPHABET, "").is_ok());
        assert!(
            t("0123456789", " ").is_ok(),
            "digits only: 0 and 1 are no look-alikes of each other"
        );
    }

    #[test]
    fn ean13_codes_carry_the_prefix_and_a_correct_check_digit() {
        // A published EAN-13: 4006381333931.
        assert_eq!(ean13_check_digit(&[4, 0, 0, 6, 3, 8, 1, 3, 3, 3, 9, 3]), 1);
        assert!(is_valid_ean13("4006381333931"));
        assert!(!is_valid_ean13("4006381333932"));
        assert!(!is_valid_ean13("400638133393"));
        let format = CodeFormat::ean13("c", "044").unwrap();
        for _ in 0..100 {
            let code = format.generate().unwrap();
            assert!(code.starts_with("044") && is_valid_ean13(&code), "{code}");
            assert!(format.matches(&code));
        }
        // 9 random digits: 29.9 bits.
        assert!((format.entropy_bits() - 29.897).abs() < 0.001);
        assert!(!format.matches("0454006381333"));
        assert!(
            CodeFormat::ean13("programmes[1].code", "04A")
                .unwrap_err()
                .to_string()
                .contains("programmes[1].code.prefix")
        );
        assert!(CodeFormat::ean13("c", "").is_err());
    }

    #[test]
    fn canonical_refuses_what_cannot_be_a_code() {
        assert_eq!(canonical(""), None);
        assert_eq!(canonical(" - "), None);
        assert_eq!(canonical("ÄBC"), None);
        assert_eq!(canonical(&"A".repeat(65)), None);
        assert_eq!(masked("ABCDEFGH"), "••••EFGH");
    }
}
