//! Pricing a basket with the promotions that hold now: what each one gives, and the
//! combination of them that is best for the customer.
//!
//! Item promotions (buy X get Y, discounts on products or groups) work on units of the
//! basket's goods. A unit one of them uses is not used by another unless that other is
//! `stackable` (it applies on top, to what is left of the price). Where several item
//! promotions compete for the same units, the order they take units in decides what the
//! customer gets; the engine tries every order of each group of competing promotions (a
//! *component*: promotions linked by shared goods or an exclusion) up to
//! [`EXHAUSTIVE_UP_TO`] of them, and keeps the order that takes the most off; a larger
//! component is taken in the order of what each promotion would give alone, best first
//! (then `priority`). Exclusions are honoured in every order: a promotion that excludes one
//! already applied is skipped, so every compatible subset is among the orders tried.
//! Stackable promotions follow, by priority. Thresholds come last: each counts the basket
//! value (before or after the item promotions, with or without VAT, as configured) and
//! every subset of them that excludes nothing chosen is tried.
//!
//! Cost: for a component of k competing promotions over u units, every order when
//! k ≤ [`EXHAUSTIVE_UP_TO`], searched depth first so that orders with the same beginning
//! share its work: k + k(k−1) + … + k! applications of one promotion, each O(u log u)
//! (64 for k = 4, 1956 for k = 6); one order of k applications otherwise. Thresholds:
//! 2^t subsets of the t that hold, t ≤ [`THRESHOLD_SUBSETS_UP_TO`] (more are taken by
//! priority), each a sum of amounts computed once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use posd_plugin_sdk::Decimal;
use posd_plugin_sdk::schema::{Line, LineKind};

use crate::config::{Basis, Config, Per, Promotion, Reward, Rule, Selector};

/// Components of at most this many competing promotions are searched in every order.
pub const EXHAUSTIVE_UP_TO: usize = 6;

/// At most this many thresholds that hold are searched in every combination.
pub const THRESHOLD_SUBSETS_UP_TO: usize = 8;

/// Decimal places of the money the engine hands out (cent, haléř).
const MINOR: u32 = 2;

/// Rounds money to the cent (haléř), half away from zero, as the host does.
pub fn round(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(MINOR, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// A good of the basket as the engine counts it.
#[derive(Debug, Clone)]
pub struct Good<'a> {
    /// The line.
    pub line: &'a Line,
    /// Whole units, or `None` for a weighed or measured quantity (`0.350` kg).
    pub units: Option<u64>,
    /// A unit's price: the line's amount shared over its units (the amount is what the
    /// customer pays, already rounded); the whole amount for a weighed good.
    unit_price: Decimal,
}

impl<'a> Good<'a> {
    /// The goods of a sale: item lines with a positive amount.
    pub fn of(lines: &'a [Line]) -> Vec<Good<'a>> {
        lines
            .iter()
            .filter(|l| l.kind == LineKind::Item && l.amount > Decimal::ZERO)
            .map(|line| {
                let units = line.whole_units().ok();
                let unit_price = match units {
                    Some(n) if n > 0 => line.amount / Decimal::from(n),
                    _ => line.amount,
                };
                Good {
                    line,
                    units,
                    unit_price,
                }
            })
            .collect()
    }

    fn net_factor(&self) -> Decimal {
        Decimal::ONE + self.line.tax_rate / Decimal::ONE_HUNDRED
    }
}

/// What one promotion takes off one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reduction {
    /// The promotion's index in the configuration.
    pub promotion: usize,
    /// The good's index in [`Good::of`].
    pub good: usize,
    /// The amount off, positive, rounded to the cent.
    pub amount: Decimal,
}

/// The state of the basket while promotions are applied in some order.
#[derive(Debug, Clone)]
struct Ledger {
    /// Units of each good used by a non-stackable promotion.
    used: Vec<u64>,
    /// Whether a weighed good is used.
    used_whole: Vec<bool>,
    /// What is already off each good.
    off: Vec<Decimal>,
    reductions: Vec<Reduction>,
    /// The sum of `reductions`.
    sum: Decimal,
    applied: Vec<usize>,
}

impl Ledger {
    fn new(goods: usize) -> Self {
        Ledger {
            used: vec![0; goods],
            used_whole: vec![false; goods],
            off: vec![Decimal::ZERO; goods],
            reductions: Vec::new(),
            sum: Decimal::ZERO,
            applied: Vec::new(),
        }
    }

    fn total(&self) -> Decimal {
        self.sum
    }

    /// Takes `amount` off good `good` for promotion `promotion`, never more than is left.
    fn take(&mut self, goods: &[Good], promotion: usize, good: usize, amount: Decimal) {
        let left = goods[good].line.amount - self.off[good];
        let amount = round(amount).min(left);
        if amount > Decimal::ZERO {
            self.off[good] += amount;
            self.sum += amount;
            // Merged per promotion and good once the search is done ([`merged`]).
            self.reductions.push(Reduction {
                promotion,
                good,
                amount,
            });
        }
    }
}

/// The promotions by the skus and tags they select, and, for a buy X get Y with a reward
/// selector, by those they reward: built once with the configuration, so that a basket's
/// selections are looked up per line, not found by matching every promotion against every
/// line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// By sku: `[0]` selecting, `[1]` rewarding.
    skus: [HashMap<String, Vec<usize>>; 2],
    /// By tag, likewise.
    tags: [HashMap<String, Vec<usize>>; 2],
    /// Promotions that select every good (no sku, no tag).
    everything: Vec<usize>,
}

impl Index {
    /// The index of `promotions`.
    pub fn new(promotions: &[Promotion]) -> Self {
        let mut index = Index::default();
        for (i, p) in promotions.iter().enumerate() {
            let mut add = |side: usize, select: &Selector| {
                if side == 0 && select.skus.is_empty() && select.tags.is_empty() {
                    index.everything.push(i);
                }
                for sku in &select.skus {
                    index.skus[side].entry(sku.clone()).or_default().push(i);
                }
                for tag in &select.tags {
                    index.tags[side].entry(tag.clone()).or_default().push(i);
                }
            };
            add(0, &p.select);
            if let Rule::BuyGet {
                reward_from: Some(r),
                ..
            } = &p.rule
            {
                add(1, r);
            }
        }
        index
    }

    /// The promotions that select (`side` 0) or reward (1) `line`, ascending.
    fn of(&self, side: usize, line: &Line) -> Vec<usize> {
        let mut found: Vec<usize> = self.skus[side]
            .get(line.sku.as_str())
            .into_iter()
            .flatten()
            .chain(
                line.tags
                    .iter()
                    .flat_map(|t| self.tags[side].get(t.as_str()).into_iter().flatten()),
            )
            .copied()
            .collect();
        if side == 0 {
            found.extend(&self.everything);
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// The goods and, for each promotion, the goods it selects and the goods it rewards, by
/// [`Index`].
struct Pricing<'c, 'g> {
    config: &'c Config,
    goods: &'g [Good<'g>],
    selected: Vec<Vec<usize>>,
    rewarded: Vec<Vec<usize>>,
}

impl<'c, 'g> Pricing<'c, 'g> {
    fn new(config: &'c Config, goods: &'g [Good<'g>]) -> Self {
        let n = config.promotions.len();
        let (mut selected, mut rewarded) = (vec![Vec::new(); n], vec![Vec::new(); n]);
        for (g, good) in goods.iter().enumerate() {
            for p in config.index.of(0, good.line) {
                selected[p].push(g);
            }
            for p in config.index.of(1, good.line) {
                rewarded[p].push(g);
            }
        }
        Pricing {
            config,
            goods,
            selected,
            rewarded,
        }
    }
}

/// A unit available to a promotion: the good it belongs to and its price.
#[derive(Debug, Clone, Copy)]
struct Unit {
    good: usize,
    price: Decimal,
}

/// The available whole units of the goods `of`, most expensive first.
fn units(goods: &[Good], ledger: &Ledger, of: &[usize], stackable: bool) -> Vec<Unit> {
    // The goods are sorted, not their units: a good's units share its price.
    let mut by_price: Vec<(usize, u64)> = Vec::with_capacity(of.len());
    for &i in of {
        let Some(n) = goods[i].units else { continue };
        let free = if stackable { n } else { n - ledger.used[i] };
        if free > 0 {
            by_price.push((i, free));
        }
    }
    // Ties keep basket order, so the same basket always gives the same lines.
    by_price.sort_by(|a, b| {
        goods[b.0]
            .unit_price
            .cmp(&goods[a.0].unit_price)
            .then(a.0.cmp(&b.0))
    });
    let count = by_price.iter().map(|&(_, n)| n).sum::<u64>();
    let mut units: Vec<Unit> = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for (good, free) in by_price {
        let price = goods[good].unit_price;
        units.extend((0..free).map(|_| Unit { good, price }));
    }
    units
}

/// `percent` % of `amount`, exactly: dividing by 100 is moving the decimal point two places,
/// which a decimal does without a division (it divides where the scale is used up).
fn percent_of(amount: Decimal, percent: Decimal) -> Decimal {
    let mut product = amount * percent;
    match product.set_scale(product.scale() + 2) {
        Ok(()) => product,
        Err(_) => amount * percent / Decimal::ONE_HUNDRED,
    }
}

fn off(reward: Reward, price: Decimal) -> Decimal {
    match reward {
        Reward::Percent(p) => percent_of(price, p),
        Reward::Amount(a) => a.min(price),
    }
}

/// Applies item promotion `index` to the ledger.
fn apply_item(pricing: &Pricing, ledger: &mut Ledger, index: usize) {
    let goods = pricing.goods;
    let selected = &pricing.selected[index];
    let promotion = &pricing.config.promotions[index];
    let stackable = promotion.stackable;
    let before = ledger.reductions.len();
    let mut consumed: Vec<usize> = Vec::new();
    match &promotion.rule {
        Rule::BuyGet {
            buy,
            get,
            reward,
            reward_from: None,
        } => {
            let units = units(goods, ledger, selected, stackable);
            let set = (buy + get) as usize;
            for chunk in units.chunks_exact(set) {
                // Sorted most expensive first: the last `get` of each set are its cheapest.
                for unit in &chunk[*buy as usize..] {
                    ledger.take(goods, index, unit.good, off(*reward, unit.price));
                }
                consumed.extend(chunk.iter().map(|u| u.good));
            }
        }
        Rule::BuyGet {
            buy,
            get,
            reward,
            reward_from: Some(_),
        } => {
            let rewardable = &pricing.rewarded[index];
            let all = units(goods, ledger, selected, stackable);
            let bought: Vec<Unit> = all
                .into_iter()
                .filter(|u| !rewardable.contains(&u.good))
                .collect();
            let sets = bought.len() / *buy as usize;
            let rewards = units(goods, ledger, rewardable, stackable);
            let given = (sets * *get as usize).min(rewards.len());
            // The cheapest units make the sets; the dearest reward units are given.
            let mut used_sets: Vec<Unit> = bought[bought.len() - sets * *buy as usize..].to_vec();
            used_sets.extend(rewards[..given].iter().copied());
            for unit in &rewards[..given] {
                ledger.take(goods, index, unit.good, off(*reward, unit.price));
            }
            if given > 0 {
                consumed.extend(used_sets.iter().map(|u| u.good));
            }
        }
        Rule::Discount { reward, cap } => {
            let mut wanted: Vec<(usize, Decimal)> = Vec::new();
            for &i in selected {
                let good = &goods[i];
                match good.units {
                    Some(n) => {
                        let free = if stackable { n } else { n - ledger.used[i] };
                        if free == 0 {
                            continue;
                        }
                        // On top of other promotions: what is left of the price; else the
                        // units it takes are untouched, at the unit's own price.
                        let price = if stackable {
                            (good.line.amount - ledger.off[i]) / Decimal::from(n)
                        } else {
                            good.unit_price
                        };
                        wanted.push((i, off(*reward, price) * Decimal::from(free)));
                        consumed.extend((0..free).map(|_| i));
                    }
                    // A fixed amount is per unit: a weighed good gets percentages only.
                    None if matches!(reward, Reward::Percent(_))
                        && (stackable || !ledger.used_whole[i]) =>
                    {
                        wanted.push((i, off(*reward, good.line.amount - ledger.off[i])));
                        consumed.push(i);
                    }
                    None => {}
                }
            }
            if let Some((cap, basis)) = cap {
                wanted = capped(goods, wanted, *cap, *basis);
            }
            for (good, amount) in wanted {
                ledger.take(goods, index, good, amount);
            }
        }
        Rule::Threshold { .. } => return,
    }
    if ledger.reductions.len() > before {
        ledger.applied.push(index);
        if !stackable {
            for good in consumed {
                match goods[good].units {
                    Some(_) => ledger.used[good] += 1,
                    None => ledger.used_whole[good] = true,
                }
            }
        }
    }
}

/// Scales `wanted` down to `cap` (gross, or net of each good's VAT), then rounds so that a
/// gross cap is met to the cent: the rounding difference goes to the largest share.
fn capped(
    goods: &[Good],
    wanted: Vec<(usize, Decimal)>,
    cap: Decimal,
    basis: Basis,
) -> Vec<(usize, Decimal)> {
    let counted = |good: usize, amount: Decimal| match basis {
        Basis::Gross => amount,
        Basis::Net => amount / goods[good].net_factor(),
    };
    let total: Decimal = wanted.iter().map(|&(g, a)| counted(g, a)).sum();
    if total <= cap {
        return wanted;
    }
    // a · cap / total, in that order: a 28-digit factor cap / total would make every
    // multiplication the slow, overflowing kind.
    let mut scaled: Vec<(usize, Decimal)> = wanted
        .iter()
        .map(|&(g, a)| (g, round(a * cap / total)))
        .collect();
    if basis == Basis::Gross {
        let difference = cap - scaled.iter().map(|&(_, a)| a).sum::<Decimal>();
        if let Some(largest) = scaled.iter_mut().max_by(|a, b| a.1.cmp(&b.1)) {
            largest.1 += difference;
        }
    }
    scaled
}

/// What a threshold gives on top of `ledger`, spread over the goods it selects: the
/// goods, and the whole amount off.
fn threshold(pricing: &Pricing, index: usize, ledger: &Ledger) -> Option<(Vec<usize>, Decimal)> {
    let (promotion, goods) = (&pricing.config.promotions[index], pricing.goods);
    let Rule::Threshold {
        tiers,
        min_quantity,
        basis,
        after_discounts,
        per,
    } = &promotion.rule
    else {
        return None;
    };
    let (selected, value) = counted(
        pricing,
        index,
        ledger,
        *min_quantity,
        *basis,
        *after_discounts,
    )?;
    let tier = tiers.iter().rev().find(|t| t.from <= value)?;
    let payable: Decimal = selected
        .iter()
        .map(|&i| goods[i].line.amount - ledger.off[i])
        .sum();
    let amount = match (tier.reward, per) {
        (Reward::Percent(p), _) => percent_of(payable, p),
        (Reward::Amount(a), Per::Sale) => a,
        (Reward::Amount(a), Per::Set) => a * (value / tier.from).floor(),
    };
    let amount = round(amount).min(payable);
    (amount > Decimal::ZERO).then(|| (selected.to_vec(), amount))
}

/// The goods a threshold selects and the basket value it counts over them on `ledger`;
/// `None` while the basket holds fewer than `min_quantity` of them (or none).
fn counted<'p>(
    pricing: &'p Pricing,
    index: usize,
    ledger: &Ledger,
    min_quantity: u32,
    basis: Basis,
    after_discounts: bool,
) -> Option<(&'p [usize], Decimal)> {
    let goods = pricing.goods;
    let selected = pricing.selected[index].as_slice();
    let quantity: u64 = selected.iter().map(|&i| goods[i].units.unwrap_or(1)).sum();
    if quantity < u64::from(min_quantity) || selected.is_empty() {
        return None;
    }
    Some((
        selected,
        basket_value(goods, ledger, selected, basis, after_discounts),
    ))
}

/// The basket value a threshold counts over `selected`.
fn basket_value(
    goods: &[Good],
    ledger: &Ledger,
    selected: &[usize],
    basis: Basis,
    after_discounts: bool,
) -> Decimal {
    selected
        .iter()
        .map(|&i| {
            let gross = goods[i].line.amount
                - if after_discounts {
                    ledger.off[i]
                } else {
                    Decimal::ZERO
                };
            match basis {
                Basis::Gross => gross,
                Basis::Net => gross / goods[i].net_factor(),
            }
        })
        .sum()
}

/// A threshold that holds: its promotion, the goods it is spread over, and its amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketReduction {
    /// The promotion's index in the configuration.
    pub promotion: usize,
    /// The goods' indices in [`Good::of`].
    pub goods: Vec<usize>,
    /// The amount off, positive.
    pub amount: Decimal,
}

/// The best combination for the customer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Item promotions, per good.
    pub items: Vec<Reduction>,
    /// Thresholds.
    pub basket: Vec<BasketReduction>,
    /// What the promotions that hold miss to give (more), by promotion index, in the order
    /// they were given; see [`Missing`].
    pub missing: Vec<(usize, Missing)>,
}

impl Outcome {
    /// All that comes off.
    pub fn total(&self) -> Decimal {
        self.items.iter().map(|r| r.amount).sum::<Decimal>()
            + self.basket.iter().map(|b| b.amount).sum::<Decimal>()
    }
}

/// One reduction per promotion and good, in the order the promotions were applied.
fn merged(reductions: Vec<Reduction>) -> Vec<Reduction> {
    let mut out: Vec<Reduction> = Vec::new();
    for r in reductions {
        match out
            .iter_mut()
            .find(|o| o.promotion == r.promotion && o.good == r.good)
        {
            Some(o) => o.amount += r.amount,
            None => out.push(r),
        }
    }
    out
}

/// Whether promotion `index` excludes one in `applied`.
fn excluded(config: &Config, applied: &[usize], index: usize) -> bool {
    applied
        .iter()
        .any(|&a| config.exclusive(&config.promotions[a], &config.promotions[index]))
}

/// Tries every order of `left` on top of `ledger`, depth first, so that orders sharing a
/// beginning share its work; keeps in `best` the result that takes the most off. Orders are
/// visited in the order of `left` first: between equal results, the earlier (higher
/// priority) stays.
fn search(pricing: &Pricing, left: &mut Vec<usize>, ledger: &Ledger, best: &mut Ledger) {
    if left.is_empty() {
        if ledger.total() > best.total() {
            *best = ledger.clone();
        }
        return;
    }
    for i in 0..left.len() {
        let p = left.remove(i);
        let mut next = ledger.clone();
        if !excluded(pricing.config, &next.applied, p) {
            apply_item(pricing, &mut next, p);
        }
        search(pricing, left, &next, best);
        left.insert(i, p);
    }
}

/// Groups of competing promotions: linked by a good both select, or by an exclusion.
fn components(pricing: &Pricing, active: &[usize]) -> Vec<Vec<usize>> {
    let config = pricing.config;
    // For each good, the first active promotion seen selecting it: a later one that
    // selects it too is linked to that one.
    let mut first: Vec<Option<usize>> = vec![None; pricing.goods.len()];
    let mut links: Vec<(usize, usize)> = Vec::new();
    for (a, &p) in active.iter().enumerate() {
        for &g in pricing.selected[p].iter().chain(&pricing.rewarded[p]) {
            match first[g] {
                Some(b) => links.push((a, b)),
                None => first[g] = Some(a),
            }
        }
    }
    let mut group: Vec<usize> = (0..active.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for a in 0..active.len() {
        for b in a + 1..active.len() {
            if config.exclusive(&config.promotions[active[a]], &config.promotions[active[b]]) {
                links.push((a, b));
            }
        }
    }
    for (a, b) in links {
        let (ra, rb) = (root(&mut group, a), root(&mut group, b));
        if ra != rb {
            group[ra] = rb;
        }
    }
    let mut by_root: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &promotion) in active.iter().enumerate() {
        let r = root(&mut group, i);
        by_root.entry(r).or_default().push(promotion);
    }
    by_root.into_values().collect()
}

/// Applies `order` to a fresh ledger, skipping what an earlier one excludes.
fn run(pricing: &Pricing, order: &[usize], mut ledger: Ledger) -> Ledger {
    for &p in order {
        if !excluded(pricing.config, &ledger.applied, p) {
            apply_item(pricing, &mut ledger, p);
        }
    }
    ledger
}

/// Prices `goods` with the promotions `active` (indices into the configuration, those that
/// hold now): the combination that takes the most off.
pub fn best(config: &Config, goods: &[Good], active: &[usize]) -> Outcome {
    best_remembering(config, goods, active, &Memo::default())
}

/// How the groups of competing promotions were settled on recent baskets, so that a basket
/// change searches again only the groups whose goods it changed: scanning one more article
/// of one group leaves the other groups' answers as they were.
///
/// A group's result depends on nothing but its promotions and its goods (a good two
/// promotions select links them into one group, and so does an exclusion): the key is those
/// promotions and, for each of the goods, everything pricing reads of it. An answer from
/// memory is therefore the answer the search would give.
#[derive(Debug, Default)]
pub struct Memo {
    settled: Mutex<HashMap<Vec<u8>, Settled>>,
}

/// Groups remembered at most; past it the memory starts empty again.
const MEMO_CAPACITY: usize = 512;

/// What settling one group did to its goods.
#[derive(Debug, Clone)]
struct Settled {
    /// Per good of the group (in the key's order): units used, used whole, amount off.
    goods: Vec<(u64, bool, Decimal)>,
    /// The reductions, by the good's position in the group.
    reductions: Vec<(usize, usize, Decimal)>,
    applied: Vec<usize>,
}

impl Memo {
    /// The key of `component` over `pricing`'s goods, and the goods' indices in its order:
    /// the group's promotions, and per good its line id, units, unit price, amount and VAT
    /// rate (exact representations, scale included) and which of the group's promotions
    /// select or reward it. Written as bytes, not text: a basket change keys every group
    /// again, and formatting three decimals per good was most of what remembering cost.
    fn key(pricing: &Pricing, component: &[usize]) -> (Vec<u8>, Vec<usize>) {
        let mut goods: Vec<usize> = component
            .iter()
            .flat_map(|&p| pricing.selected[p].iter().chain(&pricing.rewarded[p]))
            .copied()
            .collect();
        goods.sort_unstable();
        goods.dedup();
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
        let mut key = Vec::with_capacity(8 + 4 * component.len() + goods.len() * 80);
        key.extend_from_slice(&count(component.len()));
        for &p in component {
            key.extend_from_slice(&count(p));
        }
        for &g in &goods {
            let good = &pricing.goods[g];
            let line = good.line;
            key.extend_from_slice(&count(line.id.len()));
            key.extend_from_slice(line.id.as_bytes());
            match good.units {
                Some(units) => {
                    key.push(1);
                    key.extend_from_slice(&units.to_le_bytes());
                }
                None => key.push(0),
            }
            for value in [good.unit_price, line.amount, line.tax_rate] {
                key.extend_from_slice(&value.serialize());
            }
            for &p in component {
                let selects = pricing.selected[p].binary_search(&g).is_ok();
                let rewards = pricing.rewarded[p].binary_search(&g).is_ok();
                key.push(u8::from(selects) | (u8::from(rewards) << 1));
            }
        }
        (key, goods)
    }

    /// `component` settled on `ledger`, from memory when its goods are as they were.
    fn settle(&self, pricing: &Pricing, component: &[usize], ledger: &mut Ledger) {
        let (key, goods) = Memo::key(pricing, component);
        let remembered = self.settled.lock().ok().and_then(|m| m.get(&key).cloned());
        let settled = match remembered {
            Some(settled) => settled,
            None => {
                let before = (ledger.reductions.len(), ledger.applied.len());
                let best = search_component(pricing, component, ledger.clone());
                let position = |g: usize| goods.binary_search(&g).unwrap_or_default();
                let settled = Settled {
                    goods: goods
                        .iter()
                        .map(|&g| (best.used[g], best.used_whole[g], best.off[g]))
                        .collect(),
                    reductions: best.reductions[before.0..]
                        .iter()
                        .map(|r| (position(r.good), r.promotion, r.amount))
                        .collect(),
                    applied: best.applied[before.1..].to_vec(),
                };
                if let Ok(mut memory) = self.settled.lock() {
                    if memory.len() >= MEMO_CAPACITY {
                        memory.clear();
                    }
                    memory.insert(key, settled.clone());
                }
                settled
            }
        };
        for (&g, &(used, whole, off)) in goods.iter().zip(&settled.goods) {
            ledger.used[g] = used;
            ledger.used_whole[g] = whole;
            ledger.off[g] = off;
        }
        for &(at, promotion, amount) in &settled.reductions {
            ledger.sum += amount;
            ledger.reductions.push(Reduction {
                promotion,
                good: goods[at],
                amount,
            });
        }
        ledger.applied.extend(settled.applied);
    }
}

/// The best order of `component` on `ledger`: every order searched for a small group, by
/// value alone for a large one.
fn search_component(pricing: &Pricing, component: &[usize], ledger: Ledger) -> Ledger {
    let promotions = &pricing.config.promotions;
    let mut order = component.to_vec();
    by_priority(promotions, &mut order);
    let mut best = run(pricing, &order, ledger.clone());
    if component.len() <= EXHAUSTIVE_UP_TO {
        search(pricing, &mut order, &ledger, &mut best);
    } else {
        let alone = |p: usize| run(pricing, &[p], ledger.clone()).total();
        let mut by_value: Vec<(Decimal, usize)> = order.iter().map(|&p| (alone(p), p)).collect();
        by_value.sort_by_key(|&(value, _)| std::cmp::Reverse(value));
        let order: Vec<usize> = by_value.into_iter().map(|(_, p)| p).collect();
        let tried = run(pricing, &order, ledger);
        if tried.total() > best.total() {
            best = tried;
        }
    }
    best
}

/// Sorts promotion indices by priority, highest first, then by configuration order.
fn by_priority(promotions: &[Promotion], list: &mut [usize]) {
    list.sort_by(|&a, &b| {
        promotions[b]
            .priority
            .cmp(&promotions[a].priority)
            .then(a.cmp(&b))
    })
}

/// [`best`], with the groups whose goods are unchanged since a recent basket taken from
/// `memo`.
pub fn best_remembering(config: &Config, goods: &[Good], active: &[usize], memo: &Memo) -> Outcome {
    let pricing = Pricing::new(config, goods);
    let pricing = &pricing;
    let promotions = &config.promotions;
    let by_priority = |list: &mut Vec<usize>| by_priority(promotions, list);
    let competing: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&p| promotions[p].is_item_level() && !promotions[p].stackable)
        .collect();
    let mut ledger = Ledger::new(goods.len());
    for component in components(pricing, &competing) {
        memo.settle(pricing, &component, &mut ledger);
    }
    let mut stacking: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&p| promotions[p].is_item_level() && promotions[p].stackable)
        .collect();
    by_priority(&mut stacking);
    let ledger = run(pricing, &stacking, ledger);
    let mut thresholds: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&p| !promotions[p].is_item_level() && !excluded(config, &ledger.applied, p))
        .collect();
    by_priority(&mut thresholds);
    // Each threshold counts the basket as the item promotions left it, never the other
    // thresholds: what each gives is computed once, and only the choice is searched.
    let holding: Vec<(usize, Vec<usize>, Decimal)> = thresholds
        .iter()
        .filter_map(|&p| threshold(pricing, p, &ledger).map(|(on, amount)| (p, on, amount)))
        .collect();
    let searched = holding.len().min(THRESHOLD_SUBSETS_UP_TO);
    let conflicts: Vec<u32> = (0..searched)
        .map(|i| {
            (0..searched)
                .filter(|&j| config.exclusive(&promotions[holding[i].0], &promotions[holding[j].0]))
                .fold(0, |bits, j| bits | (1 << j))
        })
        .collect();
    let payable: Decimal = goods
        .iter()
        .enumerate()
        .map(|(i, g)| g.line.amount - ledger.off[i])
        .sum();
    let (mut best_mask, mut best_amount) = (0u32, Decimal::ZERO);
    for mask in 1u32..(1 << searched) {
        let members = (0..searched).filter(|i| mask & (1 << i) != 0);
        if members.clone().any(|i| conflicts[i] & mask != 0) {
            continue;
        }
        let amount = members.map(|i| holding[i].2).sum::<Decimal>().min(payable);
        // Strictly more: between equal choices the one of higher priority, met first, stays.
        if amount > best_amount {
            (best_mask, best_amount) = (mask, amount);
        }
    }
    let mut chosen: Vec<usize> = (0..searched)
        .filter(|i| best_mask & (1 << i) != 0)
        .collect();
    for i in searched..holding.len() {
        if chosen
            .iter()
            .all(|&c| !config.exclusive(&promotions[holding[c].0], &promotions[holding[i].0]))
        {
            chosen.push(i);
        }
    }
    let mut left = payable;
    let mut best_basket: Vec<BasketReduction> = Vec::new();
    for i in chosen {
        let (promotion, on, amount) = holding[i].clone();
        let amount = amount.min(left);
        if amount > Decimal::ZERO {
            left -= amount;
            best_basket.push(BasketReduction {
                promotion,
                goods: on,
                amount,
            });
        }
    }
    let missing = active
        .iter()
        .filter_map(|&p| Some((p, missing(pricing, &ledger, p)?)))
        .collect();
    Outcome {
        items: merged(ledger.reductions),
        basket: best_basket,
        missing,
    }
}

/// What promotion `index` misses to give (more) on `ledger`, the basket after the item
/// promotions: the units of its set still to add, or the basket value still to reach its
/// next tier. `None` when nothing near is missing.
fn missing(pricing: &Pricing, ledger: &Ledger, index: usize) -> Option<Missing> {
    match &pricing.config.promotions[index].rule {
        Rule::BuyGet {
            buy,
            get,
            reward_from: None,
            ..
        } => {
            let units: u64 = pricing.selected[index]
                .iter()
                .filter_map(|&g| pricing.goods[g].units)
                .sum();
            let set = u64::from(buy + get);
            let rest = units % set;
            // Only once the units to buy are there: the next ones would be rewarded.
            (rest >= u64::from(*buy)).then(|| Missing::Units(set - rest))
        }
        Rule::Threshold {
            tiers,
            basis,
            after_discounts,
            min_quantity,
            ..
        } => {
            let (_, value) = counted(
                pricing,
                index,
                ledger,
                *min_quantity,
                *basis,
                *after_discounts,
            )?;
            let next = tiers.iter().find(|t| t.from > value)?;
            Some(Missing::Value(next.from - value))
        }
        _ => None,
    }
}

/// What a promotion misses, for a nudge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// This many more units of its set.
    Units(u64),
    /// This much more basket value (as the threshold counts it).
    Value(Decimal),
}

#[cfg(test)]
mod tests {
    use super::*;
    use posd_plugin_sdk::serde_json::{Value, json};

    fn item(id: &str, sku: &str, qty: &str, price: &str, rate: &str, tags: &[&str]) -> Line {
        let qty: Decimal = qty.parse().expect("qty");
        let unit_price: Decimal = price.parse().expect("price");
        Line {
            id: id.into(),
            kind: LineKind::Item,
            sku: sku.into(),
            name: id.into(),
            qty,
            unit_price,
            amount: round(qty * unit_price),
            tax_rate: rate.parse().expect("rate"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Line::default()
        }
    }

    fn config(promotions: Value) -> Config {
        Config::parse(json!({ "promotions": promotions })).expect("config")
    }

    fn priced(config: &Config, lines: &[Line]) -> Outcome {
        let goods = Good::of(lines);
        let active: Vec<usize> = (0..config.promotions.len()).collect();
        best(config, &goods, &active)
    }

    fn d(text: &str) -> Decimal {
        text.parse().expect("decimal")
    }

    fn eistee() -> Config {
        config(
            json!([{"id": "EISTEE", "name": "Eistee 3 für 2", "kind": "buy_get",
                       "skus": ["9001"], "buy": 2, "get": 1, "percent": "100"}]),
        )
    }

    #[test]
    fn a_percentage_moves_the_decimal_point_exactly() {
        assert_eq!(percent_of(d("13.33"), d("50")), d("6.665"));
        assert_eq!(percent_of(d("1.29"), d("100")), d("1.29"));
        // No scale left to move the point into: divided after all.
        let fine = d("0.333333333333333333333333333");
        assert_eq!(
            percent_of(fine, d("33.3")),
            fine * d("33.3") / Decimal::ONE_HUNDRED
        );
    }

    #[test]
    fn three_iced_teas_one_free_six_two_five_one() {
        let config = eistee();
        for (qty, free) in [("2", "0"), ("3", "1.29"), ("5", "1.29"), ("6", "2.58")] {
            let lines = [item("L1", "9001", qty, "1.29", "10", &[])];
            assert_eq!(priced(&config, &lines).total(), d(free), "{qty} iced teas");
        }
        let lines = [item("L1", "9001", "2", "1.29", "10", &[])];
        assert_eq!(priced(&config, &lines).missing, [(0, Missing::Units(1))]);
        let one = [item("L1", "9001", "1", "1.29", "10", &[])];
        assert_eq!(priced(&config, &one).missing, []);
    }

    #[test]
    fn mix_and_match_makes_the_cheapest_of_each_set_free() {
        let config = config(
            json!([{"id": "MM", "name": "3 für 2 Snacks", "kind": "buy_get",
            "tags": ["group:snacks"], "buy": 2, "get": 1, "percent": "100"}]),
        );
        let snacks = &["group:snacks"];
        let lines = [
            item("L1", "a", "1", "3.00", "10", snacks),
            item("L2", "b", "2", "2.00", "10", snacks),
            item("L3", "c", "2", "1.00", "10", snacks),
            item("L4", "x", "5", "9.00", "20", &[]),
        ];
        // Sorted 3, 2, 2 | 1, 1: one full set, its cheapest (2.00) free; the 1.00s wait.
        let outcome = priced(&config, &lines);
        assert_eq!(outcome.total(), d("2.00"));
        assert_eq!(outcome.items[0].good, 1);
        let more = [
            item("L1", "a", "1", "3.00", "10", snacks),
            item("L2", "b", "2", "2.00", "10", snacks),
            item("L3", "c", "3", "1.00", "10", snacks),
        ];
        assert_eq!(
            priced(&config, &more).total(),
            d("3.00"),
            "2.00 and 1.00 free"
        );
    }

    #[test]
    fn buy_ten_get_three_and_a_different_product_free() {
        let ten = config(json!([{"id": "T", "name": "10+3", "kind": "buy_get",
            "skus": ["w"], "buy": 10, "get": 3, "percent": "100"}]));
        let lines = [item("L1", "w", "26", "0.50", "10", &[])];
        assert_eq!(
            priced(&ten, &lines).total(),
            d("3.00"),
            "two sets of 13: six free"
        );
        let other = config(
            json!([{"id": "G", "name": "2 Kaffee, 1 Keks gratis", "kind": "buy_get",
            "skus": ["kaffee"], "buy": 2, "get": 1, "percent": "100", "reward_skus": ["keks"]}]),
        );
        let lines = [
            item("L1", "kaffee", "5", "4.00", "10", &[]),
            item("L2", "keks", "1", "1.50", "10", &[]),
        ];
        assert_eq!(
            priced(&other, &lines).total(),
            d("1.50"),
            "two sets earn two, the basket holds one"
        );
        let none = [item("L1", "kaffee", "5", "4.00", "10", &[])];
        assert_eq!(priced(&other, &none).total(), Decimal::ZERO);
    }

    #[test]
    fn a_fixed_discount_never_goes_below_zero_and_a_full_one_leaves_zero() {
        let fixed = config(json!([{"id": "F", "name": "-5 €", "kind": "discount",
            "skus": ["a"], "amount": "5.00"}]));
        let lines = [item("L1", "a", "2", "3.99", "20", &[])];
        assert_eq!(
            priced(&fixed, &lines).total(),
            d("7.98"),
            "each unit at most its price"
        );
        let full = config(json!([{"id": "F", "name": "gratis", "kind": "discount",
            "skus": ["a"], "percent": "100"}]));
        let lines = [item("L1", "a", "3", "0.33", "20", &[])];
        assert_eq!(
            priced(&full, &lines).total(),
            d("0.99"),
            "exactly the line's amount"
        );
    }

    #[test]
    fn a_cap_is_split_across_vat_rates_to_the_cent() {
        let gross = config(
            json!([{"id": "C", "name": "-50 %, max 10 €", "kind": "discount",
            "tags": ["sale"], "percent": "50", "cap": "10.00"}]),
        );
        let lines = [
            item("L1", "a", "1", "13.33", "20", &["sale"]),
            item("L2", "b", "1", "16.67", "10", &["sale"]),
        ];
        let outcome = priced(&gross, &lines);
        assert_eq!(outcome.total(), d("10.00"));
        assert_eq!(outcome.items.len(), 2, "both rates carry their share");
        let net = config(
            json!([{"id": "C", "name": "-50 %, max 10 € netto", "kind": "discount",
            "tags": ["sale"], "percent": "50", "cap": "10.00", "cap_basis": "net"}]),
        );
        let outcome = priced(&net, &lines);
        let net_total: Decimal = outcome
            .items
            .iter()
            .map(|r| r.amount / Good::of(&lines)[r.good].net_factor())
            .sum();
        assert!((net_total - d("10.00")).abs() < d("0.01"), "{net_total}");
    }

    #[test]
    fn a_ladder_gives_the_highest_tier_reached() {
        let ladder = config(json!([{"id": "K", "name": "Korb", "kind": "threshold",
            "tiers": [{"from": "100.00", "percent": "10"}, {"from": "200.00", "percent": "15"}]}]));
        for (price, off) in [
            ("99.99", "0"),
            ("100.00", "10.00"),
            ("199.99", "20.00"),
            ("200.00", "30.00"),
        ] {
            let lines = [item("L1", "a", "1", price, "20", &[])];
            assert_eq!(priced(&ladder, &lines).total(), d(off), "{price}");
        }
        let lines = [item("L1", "a", "1", "87.70", "20", &[])];
        assert_eq!(
            priced(&ladder, &lines).missing,
            [(0, Missing::Value(d("12.30")))]
        );
        let net = config(
            json!([{"id": "K", "name": "Korb netto", "kind": "threshold", "basis": "net",
            "tiers": [{"from": "100.00", "amount": "5.00"}]}]),
        );
        let lines = [item("L1", "a", "1", "110.00", "20", &[])];
        assert_eq!(priced(&net, &lines).total(), Decimal::ZERO, "91.67 net");
        let per_set = config(
            json!([{"id": "S", "name": "5 € je 50 €", "kind": "threshold", "per": "set",
            "tiers": [{"from": "50.00", "amount": "5.00"}]}]),
        );
        let lines = [item("L1", "a", "1", "149.00", "20", &[])];
        assert_eq!(priced(&per_set, &lines).total(), d("10.00"));
    }

    #[test]
    fn a_threshold_after_discounts_counts_what_is_left() {
        let both = config(json!([
            {"id": "D", "name": "-20 %", "kind": "discount", "skus": ["a"], "percent": "20"},
            {"id": "K", "name": "ab 100", "kind": "threshold", "tiers": [{"from": "100.00", "amount": "10.00"}]},
            {"id": "B", "name": "ab 100 vorher", "kind": "threshold", "after_discounts": false,
             "tiers": [{"from": "100.00", "amount": "3.00"}]},
        ]));
        let lines = [item("L1", "a", "1", "110.00", "20", &[])];
        let outcome = priced(&both, &lines);
        // 110 - 22 = 88 after the discount: only the threshold counting before it holds.
        assert_eq!(outcome.total(), d("25.00"));
        assert_eq!(outcome.basket.len(), 1);
        assert_eq!(outcome.basket[0].promotion, 2);
    }

    #[test]
    fn competing_promotions_give_the_best_result_not_the_first() {
        // Greedy by priority: the group's 3-for-2 takes all six units, one coffee free
        // (4.00) and one biscuit (1.00); the coffee discount -50 % on 4 coffees (8.00) is
        // better than the coffee free from the set. Best: the discount on the coffees and
        // the biscuits' own set.
        let config = config(json!([
            {"id": "MM", "name": "3 für 2", "kind": "buy_get", "tags": ["breakfast"],
             "buy": 2, "get": 1, "percent": "100", "priority": 10},
            {"id": "HALF", "name": "Kaffee -50 %", "kind": "discount", "skus": ["kaffee"],
             "percent": "50", "priority": 1},
        ]));
        let lines = [
            item("L1", "kaffee", "4", "4.00", "10", &["breakfast"]),
            item("L2", "keks", "3", "1.00", "10", &["breakfast"]),
        ];
        let outcome = priced(&config, &lines);
        assert_eq!(
            outcome.total(),
            d("9.00"),
            "8.00 off the coffees, one biscuit free"
        );
        let goods = Good::of(&lines);
        let pricing = Pricing::new(&config, &goods);
        let mut greedy = Ledger::new(goods.len());
        apply_item(&pricing, &mut greedy, 0);
        apply_item(&pricing, &mut greedy, 1);
        assert!(
            greedy.total() < outcome.total(),
            "greedy gives {}",
            greedy.total()
        );
    }

    #[test]
    fn exclusive_promotions_never_apply_together_and_stackable_ones_do() {
        let config = config(json!([
            {"id": "A", "name": "-10 %", "kind": "discount", "skus": ["a"], "percent": "10"},
            {"id": "B", "name": "-30 %", "kind": "discount", "skus": ["b"], "percent": "30",
             "exclusive_with": ["A"]},
            {"id": "S", "name": "-5 % drauf", "kind": "discount", "skus": ["a"], "percent": "5",
             "stackable": true},
        ]));
        let lines = [
            item("L1", "a", "1", "100.00", "20", &[]),
            item("L2", "b", "1", "10.00", "20", &[]),
        ];
        let outcome = priced(&config, &lines);
        let promotions: Vec<usize> = outcome.items.iter().map(|r| r.promotion).collect();
        assert!(
            promotions.contains(&0) && !promotions.contains(&1),
            "{promotions:?}"
        );
        // 10 % of 100, then 5 % of the 90 left.
        assert_eq!(outcome.total(), d("14.50"));
    }

    #[test]
    fn groups_answered_from_memory_price_as_a_fresh_search_does() {
        // Four groups that compete within themselves: a 3-for-2, a capped -20 % on the
        // group, a 10+1 on one article and -1 € on another, exclusive with the 3-for-2.
        let mut promotions = Vec::new();
        for g in 0..4 {
            promotions.push(
                json!({"id": format!("MM{g}"), "name": "MM", "kind": "buy_get",
                "tags": [format!("g{g}")], "buy": 2, "get": 1, "percent": "100"}),
            );
            promotions.push(
                json!({"id": format!("GD{g}"), "name": "GD", "kind": "discount",
                "tags": [format!("g{g}")], "percent": "20", "cap": "6.00"}),
            );
            promotions.push(
                json!({"id": format!("P{g}"), "name": "P", "kind": "buy_get",
                "skus": [format!("s{g}")], "buy": 10, "get": 1, "percent": "100"}),
            );
            promotions.push(
                json!({"id": format!("D{g}"), "name": "D", "kind": "discount",
                "skus": [format!("s{}", 4 + g)], "amount": "1.00",
                "exclusive_with": [format!("MM{g}")]}),
            );
        }
        promotions.push(json!({"id": "T", "name": "T", "kind": "threshold",
            "tiers": [{"from": "40.00", "amount": "3.00"}]}));
        let config = config(Value::Array(promotions));
        let active: Vec<usize> = (0..config.promotions.len()).collect();
        let memo = Memo::default();
        let mut lines: Vec<Line> = (0..24)
            .map(|i| {
                let price = format!("{}.{:02}", 1 + i % 7, (i * 29) % 100);
                let rate = if i % 3 == 0 { "10" } else { "20" };
                let tag = format!("g{}", i % 4);
                item(
                    &format!("L{i}"),
                    &format!("s{}", i % 8),
                    "1",
                    &price,
                    rate,
                    &[&tag],
                )
            })
            .collect();
        // A cashier's session: quantities up and down, a price changed, a line removed, one
        // added, and a line of the same id that is another article (the next sale's line
        // numbers start again while the memory lasts), with the memory kept across all.
        let mut step: u64 = 7;
        for turn in 0..200 {
            step = step
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (step >> 33) as usize % lines.len();
            match turn % 10 {
                3 => {
                    lines.remove(at);
                }
                7 => lines.push(item(
                    &format!("N{turn}"),
                    &format!("s{}", at % 8),
                    "2",
                    "2.50",
                    "20",
                    &[&format!("g{}", at % 4)],
                )),
                5 => {
                    let price = Decimal::new(100 + ((step >> 40) % 400) as i64, 2);
                    lines[at].unit_price = price;
                    lines[at].amount = round(lines[at].qty * price);
                }
                9 => {
                    let line = &lines[at];
                    let other = (at + 1) % 8;
                    lines[at] = item(
                        &line.id.clone(),
                        &format!("s{other}"),
                        &line.qty.to_string(),
                        &line.unit_price.to_string(),
                        &line.tax_rate.to_string(),
                        &[&format!("g{}", other % 4)],
                    );
                }
                _ => {
                    let qty = Decimal::from(1 + (step >> 40) % 5);
                    lines[at].qty = qty;
                    lines[at].amount = round(qty * lines[at].unit_price);
                }
            }
            let goods = Good::of(&lines);
            let remembered = best_remembering(&config, &goods, &active, &memo);
            assert_eq!(remembered, best(&config, &goods, &active), "turn {turn}");
        }
        let remembered = memo.settled.lock().expect("memo").len();
        assert!(remembered > 4, "groups were remembered: {remembered}");
    }
}
