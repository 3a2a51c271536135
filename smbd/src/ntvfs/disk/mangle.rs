//! 8.3 ("short") names for clients that ask for them: smbclient's
//! `allinfo` queries FileAlternateNameInformation and gives up on the whole
//! command when it fails, and directory listings of the "Both" classes
//! carry a short name.
//!
//! As Samba does by default, a name that already is a valid 8.3 name is
//! its own short name (case kept), and any other name gets a mangled one
//! computed from the name alone, so it is the same on every query, for
//! every connection and after a restart, and needs no state: the first
//! character of the name, five characters of a hash of the whole name, a
//! `~`, one more hash character, and the extension when it is a valid one
//! (`A long name.txt` -> `A3KX9Q~F.TXT`). Two long names may (rarely) get
//! the same short name; short names are never used to open files here.

/// Characters allowed in an 8.3 name besides ASCII letters and digits.
const EXTRA: &str = "!#$%&'()-@^_`{}~";

fn valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || EXTRA.contains(c)
}

/// Whether `name` is already a valid 8.3 name: a base of one to eight
/// characters, optionally a dot and an extension of one to three, all
/// from the 8.3 character set.
pub fn is_8_3(name: &str) -> bool {
    if name == "." || name == ".." {
        return true;
    }
    let (base, ext) = match name.split_once('.') {
        Some((b, e)) => {
            if e.is_empty() || e.contains('.') {
                return false;
            }
            (b, e)
        }
        None => (name, ""),
    };
    (1..=8).contains(&base.len())
        && ext.len() <= 3
        && base.chars().all(valid_char)
        && ext.chars().all(valid_char)
}

/// FNV-1a over the case-folded name: short names are case-insensitive, so
/// names differing only in case mangle alike.
fn hash(name: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in name.to_uppercase().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The mangled 8.3 name of a name that is not itself 8.3.
fn mangled(name: &str) -> String {
    let first = name
        .chars()
        .next()
        .filter(|c| valid_char(*c))
        .map_or('_', |c| c.to_ascii_uppercase());
    let mut h = hash(name);
    let mut s = String::with_capacity(12);
    s.push(first);
    for i in 0..6 {
        if i == 5 {
            s.push('~');
        }
        s.push(DIGITS[(h % 36) as usize] as char);
        h /= 36;
    }
    if let Some((b, ext)) = name.rsplit_once('.')
        && !b.is_empty()
        && (1..=3).contains(&ext.len())
        && ext.chars().all(valid_char)
    {
        s.push('.');
        s.push_str(&ext.to_ascii_uppercase());
    }
    s
}

/// The name FileAlternateNameInformation returns: the name itself when it
/// is 8.3, else its mangled form.
pub fn alternate_name(name: &str) -> String {
    if is_8_3(name) {
        name.to_string()
    } else {
        mangled(name)
    }
}

/// The short name of a directory entry: empty when the name is 8.3 (the
/// client uses the long one), else the mangled form.
pub fn dir_short_name(name: &str) -> String {
    if is_8_3(name) {
        String::new()
    } else {
        mangled(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_their_own_short_names() {
        for n in [
            "lower.txt",
            "UPPER.TXT",
            "a",
            "ABCDEFGH.IJK",
            "x.y",
            "a_b-c~1.$$$",
            ".",
            "..",
        ] {
            assert!(is_8_3(n), "{n}");
            assert_eq!(alternate_name(n), n);
            assert_eq!(dir_short_name(n), "");
        }
    }

    #[test]
    fn long_or_odd_names_are_mangled() {
        for n in [
            "A long file name.text",
            "has space.txt",
            "abc.defg",
            ".hidden",
            "a.b.c",
            "ABCDEFGHI.TXT",
            "x.",
            "ünïcode.txt",
            "Long Directory Name",
        ] {
            assert!(!is_8_3(n), "{n}");
            let s = alternate_name(n);
            assert!(is_8_3(&s), "{n} -> {s}");
            assert_eq!(s, s.to_ascii_uppercase(), "{n} -> {s}");
            assert_eq!(s.as_bytes()[6], b'~', "{n} -> {s}");
            assert_eq!(dir_short_name(n), s);
        }
        assert_eq!(&alternate_name("has space.txt")[..1], "H");
        assert!(alternate_name("has space.txt").ends_with(".TXT"));
        assert!(alternate_name("a.b.c").ends_with(".C"));
        assert!(!alternate_name("abc.defg").contains('.'));
        assert!(alternate_name(".hidden").starts_with('_'));
        assert!(alternate_name("ünïcode.txt").starts_with('_'));
    }

    #[test]
    fn mangling_is_deterministic_and_spreads() {
        assert_eq!(
            alternate_name("A long file name.text"),
            alternate_name("A long file name.text")
        );
        assert_eq!(
            alternate_name("a long FILE name.text"),
            alternate_name("A LONG file NAME.TEXT")
        );
        let names: std::collections::HashSet<String> = (0..1000)
            .map(|i| alternate_name(&format!("report number {i}.docx")))
            .collect();
        assert!(names.len() > 990, "{}", names.len());
    }
}
