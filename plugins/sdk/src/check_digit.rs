//! Check digits of card, coupon and article numbers, which several plugins read: GS1
//! (EAN-13, EAN-8, in-store cards) and Luhn (payment and partner cards). One place, so
//! that every plugin catches a mistyped digit the same way.

/// The GS1 check digit of `body` (ASCII digits only): from the right, weights 3, 1, 3, …
pub fn gs1(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.wrapping_sub(b'0'));
            if i % 2 == 0 { d * 3 } else { d }
        })
        .sum();
    (10 - sum % 10) % 10
}

/// The Luhn check digit of `body` (ASCII digits only): every second digit from the right
/// doubled, its digits summed.
pub fn luhn(body: &str) -> u32 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.wrapping_sub(b'0'));
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_examples_check() {
        assert_eq!(gs1("400638133393"), 1, "EAN-13 4006381333931");
        assert_eq!(gs1("9638507"), 4, "EAN-8 96385074");
        assert_eq!(luhn("7992739871"), 3);
    }
}
