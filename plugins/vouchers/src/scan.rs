//! What a scanned or looked-up discount code is: the host asks `classify_code` for every
//! scan (and `LookupCode`) to set the `Scanned` signal's `kind`, so a configured discount
//! code must be claimed as `discount_code` there, not only in `EnterCode`. Vouchers and
//! eWallets are claimed by their programmes' formats in `classify_code` itself.

use posd_plugin_sdk::schema::{CodeInfo, CodeKind};

use crate::code;

impl crate::Vouchers {
    /// The claim of a configured discount code (`XMAS20`, also `xmas-20`): kind
    /// `discount_code`, with the validity it has. A campaign's code, no secret: not limited.
    pub(crate) fn classify_discount_code(&self, input: &str) -> Option<CodeInfo> {
        let canonical = code::canonical(input)?;
        let discount = self.config.discount_code(&canonical)?;
        Some(CodeInfo {
            expires: discount.valid_to.map(|d| d.to_string()),
            state: Some("active".into()),
            ..CodeInfo::new(CodeKind::DiscountCode)
        })
    }
}
