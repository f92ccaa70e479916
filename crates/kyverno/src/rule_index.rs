//! Which rules of a policy can select a request of a given kind, computed once per policy: an autogen'd
//! policy holds three variants of each rule (Pod, controllers, CronJob) and a request skips the other two
//! without looking at them.

use palisade_engine::Text;

/// Rule positions by the kind a request names, in rule order.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    /// For each kind some rule names literally: the rules that can select it (naming it, or naming no
    /// literal kind list).
    /// Kinds are interned: every policy's index compares against the same copy of `Pod`.
    by_kind: Vec<(Text, Box<[u32]>)>,
    /// Rules that can select any kind no rule names literally.
    other: Box<[u32]>,
}

impl RuleIndex {
    /// Builds the index from each rule's literal kind list (`None`: it may select any kind).
    pub(crate) fn new<'a>(hints: impl IntoIterator<Item = Option<&'a [String]>>) -> Self {
        let hints: Vec<Option<&[String]>> = hints.into_iter().collect();
        let mut kinds: Vec<&str> = hints.iter().flatten().flat_map(|h| h.iter().map(String::as_str)).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let positions = |keep: &dyn Fn(Option<&[String]>) -> bool| -> Box<[u32]> {
            (0u32..).zip(&hints).filter(|(_, hint)| keep(**hint)).map(|(i, _)| i).collect()
        };
        let by_kind = kinds
            .iter()
            .map(|kind| {
                let selects = |hint: Option<&[String]>| hint.is_none_or(|h| h.iter().any(|k| k == kind));
                (Text::interned(kind), positions(&selects))
            })
            .collect();
        Self { by_kind, other: positions(&|hint| hint.is_none()) }
    }

    /// Positions of the rules that can select a request of `kind`, in rule order.
    pub(crate) fn rules_for(&self, kind: &str) -> &[u32] {
        self.by_kind.iter().find(|(k, _)| k.as_str() == kind).map_or(&self.other, |(_, rules)| rules)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(kinds: &[&str]) -> Vec<String> {
        kinds.iter().map(|k| k.to_string()).collect()
    }

    #[test]
    fn kinds_select_their_rules_and_the_unhinted_ones_in_order() {
        let pod = hint(&["Pod"]);
        let controllers = hint(&["Deployment", "DaemonSet"]);
        let cron = hint(&["CronJob"]);
        let index = RuleIndex::new([Some(&pod[..]), None, Some(&controllers[..]), Some(&cron[..]), Some(&pod[..])]);
        assert_eq!(index.rules_for("Pod"), [0, 1, 4]);
        assert_eq!(index.rules_for("DaemonSet"), [1, 2]);
        assert_eq!(index.rules_for("CronJob"), [1, 3]);
        assert_eq!(index.rules_for("ConfigMap"), [1]);
        // Kinds compare exactly, as the rule's own hint check does.
        assert_eq!(index.rules_for("pod"), [1]);
        assert!(RuleIndex::new([Some(&pod[..])]).rules_for("Service").is_empty());
        assert!(RuleIndex::default().rules_for("Pod").is_empty());
    }
}
