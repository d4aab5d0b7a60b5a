//! Server roles: the three kinds of MSNP server a connection can talk to.

use serde::Serialize;

/// Server role of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Dispatch server.
    DS,
    /// Notification server.
    NS,
    /// Switchboard.
    SB,
    /// Not decided.
    Unknown,
}

impl Role {
    /// `DS`, `NS`, `SB` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::DS => "DS",
            Role::NS => "NS",
            Role::SB => "SB",
            Role::Unknown => "unknown",
        }
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Server roles a command is valid on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Dispatch server.
    pub ds: bool,
    /// Notification server.
    pub ns: bool,
    /// Switchboard.
    pub sb: bool,
}

impl Roles {
    /// No role.
    pub const NONE: Roles = Roles { ds: false, ns: false, sb: false };
    /// Every role.
    pub const ALL: Roles = Roles { ds: true, ns: true, sb: true };
    /// The switchboard alone.
    pub const SB_ONLY: Roles = Roles { ds: false, ns: false, sb: true };

    /// The roles in either.
    pub const fn union(self, o: Roles) -> Roles {
        Roles { ds: self.ds | o.ds, ns: self.ns | o.ns, sb: self.sb | o.sb }
    }

    /// The roles in both.
    pub const fn intersect(self, o: Roles) -> Roles {
        Roles { ds: self.ds & o.ds, ns: self.ns & o.ns, sb: self.sb & o.sb }
    }

    /// Whether `r` is one of them (an unknown role is in every set).
    pub fn has(self, r: Role) -> bool {
        match r {
            Role::DS => self.ds,
            Role::NS => self.ns,
            Role::SB => self.sb,
            Role::Unknown => true,
        }
    }

    /// The role, when exactly one is in the set.
    pub fn single(self) -> Option<Role> {
        match (self.ds, self.ns, self.sb) {
            (true, false, false) => Some(Role::DS),
            (false, true, false) => Some(Role::NS),
            (false, false, true) => Some(Role::SB),
            _ => None,
        }
    }
}
