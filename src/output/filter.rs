//! Output filters (`--conn`, `--role`, `--user`, `--command`, `--only-violations`,
//! `--min-severity`): which connections and events the transcript and the exports show.
//! Summaries and `--fail-on` always count everything.

use crate::msnp::Role;
use crate::rules::Severity;
use crate::session::{Connection, Event};

/// What to show. The default shows everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these connection ids.
    pub conns: Vec<u64>,
    /// Only connections of these roles.
    pub roles: Vec<Role>,
    /// Only connections of this user (a user's whole journey: DS, NS and switchboards).
    pub user: Option<String>,
    /// Only events with these verbs (or error codes).
    pub commands: Vec<String>,
    /// Only events that carry a violation.
    pub only_violations: bool,
    /// Only events with a violation at least this severe.
    pub min_severity: Option<Severity>,
}

impl Filter {
    /// Whether every connection and event is shown.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
            && self.roles.is_empty()
            && self.user.is_none()
            && self.commands.is_empty()
            && !self.only_violations
            && self.min_severity.is_none()
    }

    /// Whether the connection is shown (judged on what is known of it so far).
    pub fn connection(&self, c: &Connection) -> bool {
        (self.conns.is_empty() || self.conns.contains(&c.id))
            && (self.roles.is_empty() || self.roles.contains(&c.role))
            && self.user.as_ref().is_none_or(|u| c.user.as_deref().is_some_and(|cu| cu.eq_ignore_ascii_case(u)))
    }

    /// Whether the event is shown.
    pub fn event(&self, e: &Event) -> bool {
        if !self.commands.is_empty()
            && !e.command.as_ref().is_some_and(|c| self.commands.iter().any(|w| w.eq_ignore_ascii_case(c)))
        {
            return false;
        }
        if self.only_violations && e.violations.is_empty() {
            return false;
        }
        if let Some(min) = self.min_severity {
            if !e.violations.iter().any(|v| v.severity >= min) {
                return false;
            }
        }
        true
    }

    /// Whether events are filtered at all.
    pub fn filters_events(&self) -> bool {
        !self.commands.is_empty() || self.only_violations || self.min_severity.is_some()
    }
}
